// What names a peer in errors, metrics and traces, and how a call to it can fail below HTTP.

export type PeerService = 'CRUD' | 'AUTH' | 'ROND' | 'TIMER'

/** How a peer call ended below HTTP; otherwise its outcome is the status code. */
export type TransportOutcome = 'timeout' | 'refused' | 'reset' | 'error'
