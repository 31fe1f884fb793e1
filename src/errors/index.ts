import { CodedError } from '../../lib/errors.js';

/** Stable codes of every error wa-fleet raises on purpose; clients and logs may rely on them. */
export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  MIGRATION_UNKNOWN: 'MIGRATION_UNKNOWN',
  MIGRATION_FAILED: 'MIGRATION_FAILED',
  INVALID_INSTANCE_ID: 'INVALID_INSTANCE_ID',
  INSTANCE_NOT_FOUND: 'INSTANCE_NOT_FOUND',
  INSTANCE_EXISTS: 'INSTANCE_EXISTS',
  PATH_OUTSIDE_STORAGE: 'PATH_OUTSIDE_STORAGE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class ConfigError extends CodedError {
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(ErrorCode.CONFIG_INVALID, `${setting}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export class MigrationError extends CodedError {
  constructor(code: typeof ErrorCode.MIGRATION_UNKNOWN | typeof ErrorCode.MIGRATION_FAILED, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'MigrationError';
  }
}

export class InstanceNotFoundError extends CodedError {
  constructor(readonly instanceId: string) {
    super(ErrorCode.INSTANCE_NOT_FOUND, `instance "${instanceId}" does not exist`);
    this.name = 'InstanceNotFoundError';
  }
}

export class InstanceExistsError extends CodedError {
  constructor(readonly instanceId: string) {
    super(ErrorCode.INSTANCE_EXISTS, `instance "${instanceId}" already exists`);
    this.name = 'InstanceExistsError';
  }
}

export class InvalidInstanceIdError extends CodedError {
  constructor() {
    super(ErrorCode.INVALID_INSTANCE_ID, 'instance id must match ^[A-Za-z0-9_-]{1,64}$');
    this.name = 'InvalidInstanceIdError';
  }
}
