// `npm run sandbox`: ums on :3000 (HTTP_PORT) wired to the four emulators, seeded with the
// `customer` group, two roles and one demo user; prints the walkthrough. Ctrl-C stops everything.
import { startStack } from './stack.js'
import { USERS_ENDPOINT } from './fixtures.js'

export const DEMO_USER = {
  email: 'mario.rossi@example.com',
  username: 'mario.rossi',
  password: 'Sandbox-Pass1',
  authIdSuffix: '5f1c0ffee0ddba11ab1e0001',
}

async function main(): Promise<void> {
  const port = Number(process.env.HTTP_PORT ?? 3000)
  const stack = await startStack({
    port,
    host: '0.0.0.0',
    env: {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      USERINFO_ADDITIONAL_PROPERTIES: 'name,surname,roles,userGroup,permissions',
      UPSTREAM_TIMEOUT_MS: '10000',
      AUTH0_JOB_POLLING_INTERVAL: '2 seconds',
    },
    timer: { pollIntervalMs: 1000 },
    emulatorPorts: { crud: port + 1, auth: port + 2, rond: port + 3, timer: port + 4 },
  })
  const authUser = stack.auth0.seedUser({
    email: DEMO_USER.email,
    username: DEMO_USER.username,
    password: DEMO_USER.password,
    user_id: DEMO_USER.authIdSuffix,
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
      blocked: false,
    },
  ])

  const base = `http://localhost:${port}`
  console.log(`ums sandbox listening on ${base}
emulators (test doubles, not production services):
  CRUD Service  ${stack.crud.url}
  Auth0 Client  ${stack.auth0.url}
  Rönd          ${stack.rond.url}
  Timer Service ${stack.timer.url}

Try it (README has the full walkthrough):
  curl -s -X POST ${base}/oauth/token -H 'content-type: application/json' \\
    -d '{"username":"${DEMO_USER.username}","password":"${DEMO_USER.password}"}'
  curl -s ${base}/userinfo -H "authorization: Bearer <accessToken from above>"
  curl -s -i -X POST ${base}/users/change-password -H 'content-type: application/json' \\
    -d '{"authUserId":"${authUser.user_id}"}'
  curl -s ${base}/documentation/json
  curl -s ${stack.timer.url}/__emulator/timers        # the Timer Service's timers

Ctrl-C stops everything.`)

  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    stack
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        console.error(error)
        process.exit(1)
      })
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
