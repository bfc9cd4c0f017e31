// Only the configured backend's driver is loaded: opening a MongoDB store imports neither pg nor
// ioredis, and so on. Each driver module is wrapped to record that it was imported.
import { beforeEach, describe, expect, it, vi } from 'vitest'

const loaded = new Set<string>()
const OPTIONS = { name: 'userManagerJobs', ttlMs: 60_000 }

describe('job store drivers', () => {
  // A fresh module registry per test, with each driver wrapped anew to record its import.
  beforeEach(() => {
    vi.resetModules()
    loaded.clear()
    for (const driver of ['pg', 'ioredis', 'mongodb']) {
      vi.doMock(driver, async (importOriginal) => {
        loaded.add(driver)
        return importOriginal()
      })
    }
  })

  it('loads no driver for the in-memory store', async () => {
    const { createJobEngine } = await import('../../src/jobs/index.js')
    const { loadConfig } = await import('../../src/config/index.js')
    const config = await loadConfig({ AUTH_SERVICE: 'a', AUTH_CONNECTION: 'c', USERS_CRUD_ENDPOINT: '/u', UMS_CONFIG_CRUD_ENDPOINT: '/c' }, { useProcessEnv: false })
    const engine = await createJobEngine(config, (await import('pino')).pino({ level: 'silent' }))
    expect(engine.backendName).toBe('memory')
    expect([...loaded]).toEqual([])
  })

  it.each([
    ['mongodb', 'mongodb://127.0.0.1:1/ums'],
    ['postgres', 'postgres://127.0.0.1:1/ums'],
    ['redis', 'redis://127.0.0.1:1'],
  ] as const)('loads only the %s driver for a %s store', async (backend, url) => {
    const { openDurableJobStore } = await import('../../src/jobs/stores/index.js')
    const durable = await openDurableJobStore(backend, { ...OPTIONS, url })
    const driver = { mongodb: 'mongodb', postgres: 'pg', redis: 'ioredis' }[backend]
    expect([...loaded]).toEqual([driver])
    await durable.store.close()
  })
})
