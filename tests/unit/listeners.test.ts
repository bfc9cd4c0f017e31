// Guarded listeners: whatever a listener throws or rejects with is reported with where it happened
// (logged at error level and counted), never thrown at the event loop, and the emitter's other
// listeners still run.
import { EventEmitter } from 'node:events'
import promClient from 'prom-client'
import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { reportListenerFailures } from '../../src/jobs/index.js'
import { guarded, listen, type ListenerSite } from '../../src/jobs/listeners.js'
import { LogCapture } from '../helpers/stack.js'

async function failures(source: string, event: string): Promise<number> {
  const metric = await promClient.register.getSingleMetric('ums_listener_failures_total')!.get()
  return metric.values.find((value) => value.labels.source === source && value.labels.event === event)?.value ?? 0
}

describe('guarded listeners', () => {
  it('reports a thrown error with its site, and the emitter goes on to its next listener', () => {
    const emitter = new EventEmitter()
    const reported: Array<[unknown, ListenerSite]> = []
    const heard: unknown[] = []
    listen(emitter, 'agenda', 'complete', (job: { attrs: { data: unknown } }) => job.attrs.data, (error, site) => reported.push([error, site]))
    emitter.on('complete', (value: unknown) => heard.push(value))
    // What another replica's notification looks like: no attrs.
    expect(() => emitter.emit('complete', { type: 'complete', jobName: 'x' }, true)).not.toThrow()
    expect(reported).toHaveLength(1)
    expect(reported[0]![0]).toBeInstanceOf(TypeError)
    expect(reported[0]![1]).toEqual({ source: 'agenda', event: 'complete' })
    expect(heard).toHaveLength(1)
  })

  it('reports a rejected promise', async () => {
    const reported: unknown[] = []
    const listener = guarded({ source: 's', event: 'e' }, async () => Promise.reject(new Error('late')), (error) => reported.push(error))
    listener()
    await new Promise((resolve) => setImmediate(resolve))
    expect(reported).toEqual([new Error('late')])
  })

  it('survives a reporter that throws too', () => {
    const listener = guarded({ source: 's', event: 'e' }, () => {
      throw new Error('listener')
    }, () => {
      throw new Error('reporter')
    })
    expect(() => listener()).not.toThrow()
  })

  it('logs at error level and counts by source and event', async () => {
    const logs = new LogCapture()
    const report = reportListenerFailures(pino(logs))
    const before = await failures('redis client', 'ready')
    report(new Error('boom'), { source: 'redis client', event: 'ready' })
    expect(await failures('redis client', 'ready')).toBe(before + 1)
    expect(logs.records).toEqual([expect.objectContaining({ level: 50, source: 'redis client', event: 'ready', err: expect.objectContaining({ message: 'boom' }) })])
  })
})
