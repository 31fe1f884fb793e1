export { IpcChannel, type IpcChannelOptions, type IpcChannelStats, type IpcEndpoint } from './channel.js';
export { IpcClosedError, IpcNoHandlerError, IpcTimeoutError } from './errors.js';
export { parseMessage, type IpcMessage, type ParsedMessage } from './message.js';
