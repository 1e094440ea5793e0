#!/usr/bin/env node
import { main } from '../dist/commands/cli.js';

const code = await main(process.argv);
process.exitCode = code;
