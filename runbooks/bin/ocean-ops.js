#!/usr/bin/env node
// Launcher for the ocean-ops CLI: registers tsx (resolved from this package, not the caller's
// working directory) so the TypeScript runbooks run as they are, then hands over to the CLI.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
process.exitCode = await main(process.argv)
