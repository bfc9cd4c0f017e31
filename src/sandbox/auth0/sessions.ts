// Login sessions of the Auth0 Client emulator:
// the Redis sessions of the real service, indexed by access token, refresh token and `sid`.
import { opaqueToken } from './ids.js'

export interface Session {
  userId: string
  clientType: string
  accessToken: string
  refreshToken: string
  idToken: string
  /** Cookie value in website mode. */
  sid?: string
  accessExpiresAtMs: number
  sessionExpiresAtMs: number
}

export interface SessionTimes {
  tokenLifetimeMs: number
  sessionDurationMs: number
  nowMs: number
}

export class SessionStore {
  private readonly byAccess = new Map<string, Session>()
  private readonly byRefresh = new Map<string, Session>()
  private readonly bySid = new Map<string, Session>()
  /** Refresh tokens of deleted users: Auth0 revokes them, which reads differently from "unknown". */
  private readonly revokedRefresh = new Set<string>()

  create(userId: string, clientType: string, website: boolean, times: SessionTimes): Session {
    const session: Session = {
      userId,
      clientType,
      accessToken: opaqueToken(),
      refreshToken: opaqueToken(),
      idToken: opaqueToken(),
      accessExpiresAtMs: times.nowMs + times.tokenLifetimeMs,
      sessionExpiresAtMs: times.nowMs + times.sessionDurationMs,
    }
    if (website) session.sid = opaqueToken()
    this.index(session)
    return session
  }

  byAccessToken(token: string): Session | undefined {
    return this.byAccess.get(token)
  }

  byRefreshToken(token: string): Session | undefined {
    return this.byRefresh.get(token)
  }

  bySessionId(sid: string): Session | undefined {
    return this.bySid.get(sid)
  }

  isRevoked(refreshToken: string): boolean {
    return this.revokedRefresh.has(refreshToken)
  }

  /** New access, refresh and ID tokens; the old access and refresh tokens stop working. */
  rotate(session: Session, times: SessionTimes): Session {
    this.byAccess.delete(session.accessToken)
    this.byRefresh.delete(session.refreshToken)
    session.accessToken = opaqueToken()
    session.refreshToken = opaqueToken()
    session.idToken = opaqueToken()
    session.accessExpiresAtMs = times.nowMs + times.tokenLifetimeMs
    this.index(session)
    return session
  }

  drop(session: Session): void {
    this.byAccess.delete(session.accessToken)
    this.byRefresh.delete(session.refreshToken)
    if (session.sid !== undefined) this.bySid.delete(session.sid)
  }

  /** Removes every session of a deleted user and remembers its refresh tokens as revoked. */
  dropUser(userId: string): void {
    for (const session of [...this.byRefresh.values()]) {
      if (session.userId !== userId) continue
      this.revokedRefresh.add(session.refreshToken)
      this.drop(session)
    }
  }

  /** Distinct users with a session that has not expired (`GET /users/active`). */
  activeUserIds(nowMs: number): string[] {
    const ids = new Set<string>()
    for (const session of this.byRefresh.values()) {
      if (session.sessionExpiresAtMs > nowMs) ids.add(session.userId)
    }
    return [...ids]
  }

  clear(): void {
    this.byAccess.clear()
    this.byRefresh.clear()
    this.bySid.clear()
    this.revokedRefresh.clear()
  }

  private index(session: Session): void {
    this.byAccess.set(session.accessToken, session)
    this.byRefresh.set(session.refreshToken, session)
    if (session.sid !== undefined) this.bySid.set(session.sid, session)
  }
}
