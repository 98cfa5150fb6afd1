// Generated from server/errcode (go test ./server/errcode -update); do not edit.
// Every coded error a client can receive: HTTP status, WebSocket close code, and
// whether a client may retry or reconnect by itself.

export interface CodeInfo {
  http: number
  close: number
  retry: boolean
}

export const errorCodes: Readonly<Record<string, CodeInfo>> = {
  bad_frame: { http: 400, close: 4000, retry: false },
  frame_too_large: { http: 413, close: 4001, retry: false },
  unknown_kind: { http: 400, close: 4002, retry: false },
  unknown_channel: { http: 400, close: 4003, retry: false },
  channel_limit: { http: 429, close: 4004, retry: false },
  bad_params: { http: 400, close: 4005, retry: false },
  unauthorized: { http: 401, close: 4009, retry: false },
  forbidden: { http: 403, close: 4006, retry: false },
  not_found: { http: 404, close: 4007, retry: false },
  limit: { http: 429, close: 4008, retry: false },
  unavailable: { http: 503, close: 1013, retry: true },
  slow_consumer: { http: 503, close: 4010, retry: true },
  flow_control: { http: 400, close: 4011, retry: false },
  internal: { http: 500, close: 1011, retry: true },
  shutting_down: { http: 503, close: 1001, retry: true },
  idle_timeout: { http: 408, close: 4012, retry: true },
  disconnected_by_admin: { http: 403, close: 4013, retry: false },
  writes_disabled: { http: 403, close: 4014, retry: false },
  conflict: { http: 409, close: 4015, retry: false },
  invalid: { http: 422, close: 4016, retry: false },
  too_large: { http: 413, close: 4017, retry: false },
  not_approved: { http: 409, close: 4018, retry: false },
  deploy_in_progress: { http: 409, close: 4019, retry: true },
  bad_state: { http: 409, close: 4020, retry: false },
  misdirected_host: { http: 421, close: 4021, retry: false },
}

/** The close code of a code without one of its own (a channel kind's). */
export const CLOSE_OTHER = 4099
