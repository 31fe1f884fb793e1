/** `HEALTH_CHECK_INTERVAL_MS` → `healthCheckIntervalMs`, at the type level and at run time. */
export type Camel<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<Camel<Tail>>}`
  : Lowercase<S>;

export function camel<S extends string>(name: S): Camel<S> {
  return name
    .toLowerCase()
    .replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) as Camel<S>;
}
