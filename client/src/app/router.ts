// A tiny history router: three routes do not justify a routing library in the bundle.
import { useEffect, useState } from 'react'

export type Route = { name: 'home' } | { name: 'room'; room: string } | { name: 'admin' }

export function parseRoute(pathname: string): Route {
  const m = /^\/r\/([^/]+)\/?$/.exec(pathname)
  if (m) {
    try {
      return { name: 'room', room: decodeURIComponent(m[1]!) }
    } catch {
      return { name: 'home' }
    }
  }
  if (/^\/admin\/?$/.test(pathname)) return { name: 'admin' }
  return { name: 'home' }
}

export function navigate(path: string): void {
  if (location.pathname === path) return
  history.pushState(null, '', path)
  dispatchEvent(new PopStateEvent('popstate'))
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname))
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.pathname))
    addEventListener('popstate', on)
    return () => removeEventListener('popstate', on)
  }, [])
  return route
}

/** Room ids: what the server accepts for a room name, also safe in a URL path. */
export const ROOM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

export function randomRoomId(): string {
  const words = ['amber', 'birch', 'cedar', 'delta', 'ember', 'fjord', 'grove', 'harbor', 'iris', 'juniper', 'kelp', 'lumen']
  const a = new Uint32Array(2)
  crypto.getRandomValues(a)
  return `${words[a[0]! % words.length]}-${(a[1]! % 100000).toString().padStart(5, '0')}`
}
