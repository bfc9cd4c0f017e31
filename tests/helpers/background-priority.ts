// Setup file of every test file but the foreground ones (vitest.config.ts): the worker, and the
// processes it starts, run at a lower CPU priority, so that a foreground file gets the CPU as soon
// as it needs it however busy the machine is. Lowering one's own priority needs no privilege.
import { getPriority, setPriority } from 'node:os'

const BACKGROUND = 10

if (getPriority() < BACKGROUND) setPriority(BACKGROUND)
