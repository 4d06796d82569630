// The migration engine's one entry point for ocean-ops (the image runs main.ts, bundled).
export { connectSource, runMigration, serviceSchema, type MigrateOptions, type MigrationOutcome, type Mode } from './run-migration.ts'
export { redactUrl } from './sources/introspect.ts'
export { MAPPING_ENV, parseMappingFile } from './plan/mapping.ts'
export type { MappingFile } from './plan/mapping-file.ts'
export { READY_LINE, RESULT_PREFIX, TARGETS_OPEN_LINE, reverseTable, type MigrationReport } from './report.ts'
export type { ChangesTimings } from './sync/changes-timings.ts'
export { captureInstallSql, captureRemoveSql, ENGINE_APPLICATION_NAME } from './sources/change-capture.ts'
export type { ReverseResult } from './sync/reverse.ts'
