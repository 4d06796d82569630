// dist/backup.mjs in the Ocean image: the backup tool (src/backup/backup-main.ts).
import { backupMain } from './backup/backup-main.ts'

process.exitCode = await backupMain(process.argv.slice(2))
