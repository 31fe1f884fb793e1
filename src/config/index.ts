export { loadConfig, secretValues, type Config, type Environment } from './config.js';
export { environmentWithFile } from './env-file.js';
export { SETTINGS, type SettingName } from './settings.js';
