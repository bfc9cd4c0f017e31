// `npm run sandbox`: ums on HTTP_PORT (3000) wired to the four emulators on the next four ports,
// seeded with the `customer` group, two roles and one demo user; prints where everything is.
// SIGINT or SIGTERM stops every server it started.
import { closeOnSignals } from '../lifecycle/shutdown.js'
import { startStack } from './stack.js'
import { ROLES, USERS_ENDPOINT } from './fixtures.js'
import { sandboxSettings } from './settings.js'
import { messageOf } from '../lib/message-of.js'
import { describeStore } from '../jobs/stores/errors.js'

const DEMO_USER = {
  email: 'mario.rossi@example.com',
  username: 'mario.rossi',
  password: 'Sandbox-Pass1',
  authIdSuffix: '5f1c0ffee0ddba11ab1e0001',
  groups: ['customers'],
}

/** How to reach `host` from this machine: wildcard and loopback addresses read as localhost. */
function reachableHost(host: string): string {
  if (['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost'].includes(host)) return 'localhost'
  return host.includes(':') ? `[${host}]` : host
}

async function main(): Promise<void> {
  const settings = sandboxSettings(process.env)
  if (settings.ignored.length > 0) {
    console.error(`sandbox: ignoring ${settings.ignored.join(', ')} from the environment: the sandbox points ums at its emulators`)
  }
  const stack = await startStack({
    port: settings.port,
    host: settings.host,
    env: settings.env,
    timer: { pollIntervalMs: 1000 },
    emulatorPorts: settings.emulatorPorts,
  })
  closeOnSignals(stack.app, stack.config.waitBeforeServerCloseMs, () => stack.close())

  const authUser = stack.auth0.seedUser({
    email: DEMO_USER.email,
    username: DEMO_USER.username,
    password: DEMO_USER.password,
    user_id: DEMO_USER.authIdSuffix,
    app_metadata: { groups: DEMO_USER.groups },
  })
  stack.crud.seed(USERS_ENDPOINT, [
    {
      userGroup: 'customer',
      authUserId: authUser.user_id,
      username: DEMO_USER.username,
      email: DEMO_USER.email,
      name: 'Mario',
      surname: 'Rossi',
      roles: ['customer-basic'],
      groups: DEMO_USER.groups,
      blocked: false,
    },
  ])
  // The role in Rönd too, as ums would have granted it: the user is consistent in every peer.
  stack.rond.seedBinding({ subjects: [authUser.user_id], roles: ['customer-basic'] })

  const base = `http://${reachableHost(settings.host)}:${settings.port}`
  const { jobStore } = stack.config
  const jobs =
    jobStore.backend === 'memory'
      ? 'in memory (lost when the sandbox stops; JOBS_STORE_URL keeps them in PostgreSQL, Redis or MongoDB)'
      : `${describeStore(jobStore.backend, jobStore.url, stack.config.jobsCollectionName)} (from ${jobStore.variable})`
  console.log(`ums sandbox listening on ${base} (bound to ${settings.host})
jobs: ${jobs}
seeded: the group customer, the roles ${ROLES.map((role) => role.roleId).join(' and ')}, the user ${DEMO_USER.username} (password ${DEMO_USER.password})
emulators on 127.0.0.1 (test doubles, not production services):
  CRUD Service  ${stack.crud.url}   its own API: GET /users/, /ums-config/, /roles/
  Auth0 Client  ${stack.auth0.url}   GET /users, /__emulator/outbox (change-password emails)
  Rönd          ${stack.rond.url}   GET /__emulator/bindings
  Timer Service ${stack.timer.url}   GET /__emulator/timers, POST /__emulator/timers/<id>/fire

Try it (README has the whole walkthrough: run it with UMS=${base}):
  curl -s -w '\\n' -X POST ${base}${stack.config.servicePrefix}/oauth/token -H 'content-type: application/json' \\
    -d '{"username":"${DEMO_USER.username}","password":"${DEMO_USER.password}"}'
  curl -s -w '\\n' ${base}/-/check-up
Swagger UI: ${base}/documentation/ in a browser

Ctrl-C stops everything.`)
}

main().catch((error: unknown) => {
  // One line (a bad setting, a port in use): the sandbox is started by hand and read by people.
  console.error(messageOf(error))
  process.exit(1)
})
