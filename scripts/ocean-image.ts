// `npm run ocean:image`: build (or reuse) the Ocean image from this checkout and print its tag.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureOceanImage } from '../runbooks/lib/images/ocean-image.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const tag = await ensureOceanImage(root, (line) => process.stderr.write(`ocean:image: ${line}\n`))
process.stdout.write(`${tag}\n`)
