// The ums SDK: `createUmsClient({ baseUrl })`, its error and its types.
export { createUmsClient, type UmsClient, type UmsClientOptions, type ImportOptions } from './client.js'
export { UmsError, CLIENT_CODES, type ErrorBody } from './errors.js'
export type { JobProgress, WaitOptions } from './jobs.js'
export type { CsvSource, UploadProgress } from './multipart.js'
export * from './types.js'
export type { paths, components, operations } from './openapi.js'
