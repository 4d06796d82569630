// What the runbooks and the migration engine share (the engine runs without the runbooks, in the
// Ocean image): the one error type with stable codes, and the one report writer.
export { isOpsError, OpsError, type OpsErrorCode } from './ops-error.ts'
export { reportJson, reportStamp, writeReport, type ReportParts } from './write-report.ts'
