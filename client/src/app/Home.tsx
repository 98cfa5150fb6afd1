import { useEffect, useState, type FormEvent } from 'react'
import { api, itemsOf, setToken, type User } from './api.ts'
import { navigate, randomRoomId, ROOM_ID } from './router.ts'
import { Header } from './Header.tsx'

export function Login({ onSignedIn }: { onSignedIn: (u: User) => void }) {
  const [name, setName] = useState('')
  const [groups, setGroups] = useState('')
  const [token, setTok] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  const devLogin = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      const g = groups.split(',').map((s) => s.trim()).filter(Boolean)
      const res = await api.devLogin(name.trim(), g)
      setToken(res.token)
      onSignedIn(res.user ?? (await api.me()))
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(false)
    }
  }

  const tokenLogin = async (e: FormEvent) => {
    e.preventDefault()
    setError('')
    setToken(token.trim())
    try {
      onSignedIn(await api.me())
    } catch (err) {
      setToken(null)
      setError(`token refused: ${(err as Error).message}`)
    }
  }

  return (
    <div className="login">
      <h1>Yard</h1>
      <p className="muted">A shared canvas for your Kubernetes clusters.</p>
      <form onSubmit={devLogin} className="card">
        <h2>Dev login</h2>
        <label>
          Name
          <input data-testid="login-name" value={name} onChange={(e) => setName(e.target.value)} autoFocus placeholder="alice" required />
        </label>
        <label>
          Groups <span className="muted">(optional, comma-separated)</span>
          <input data-testid="login-groups" value={groups} onChange={(e) => setGroups(e.target.value)} placeholder="yard-admins" />
        </label>
        <button data-testid="login-submit" type="submit" disabled={busy || !name.trim()}>
          Sign in
        </button>
      </form>
      <form onSubmit={tokenLogin} className="card">
        <h2>Token</h2>
        <label>
          Paste a bearer token
          <input data-testid="login-token" value={token} onChange={(e) => setTok(e.target.value)} placeholder="eyJ…" />
        </label>
        <button data-testid="login-token-submit" type="submit" disabled={!token.trim()}>
          Use token
        </button>
      </form>
      {error && (
        <p className="error" role="alert" data-testid="login-error">
          {error}
        </p>
      )}
    </div>
  )
}

interface RoomInfo {
  id: string
  participants: number
}

export function parseRooms(body: unknown): RoomInfo[] {
  return itemsOf(body)
    .map((r) => ({
      id: String(r.id ?? r.room ?? r.name ?? ''),
      participants: Number(r.participants ?? r.clients ?? r.users ?? r.count ?? 0) || 0,
    }))
    .filter((r) => r.id)
}

export function Home({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const [rooms, setRooms] = useState<RoomInfo[] | null>(null)
  const [error, setError] = useState('')
  const [name, setName] = useState('')

  useEffect(() => {
    let stop = false
    const load = () =>
      api.rooms().then(
        (b) => !stop && (setRooms(parseRooms(b)), setError('')),
        (e: Error) => !stop && setError(e.message),
      )
    void load()
    const t = setInterval(load, 5000)
    return () => {
      stop = true
      clearInterval(t)
    }
  }, [])

  const create = (e: FormEvent) => {
    e.preventDefault()
    const id = name.trim() || randomRoomId()
    if (!ROOM_ID.test(id)) {
      setError('room names: letters, digits, ".", "_" or "-" (at most 63)')
      return
    }
    navigate(`/r/${encodeURIComponent(id)}`)
  }

  return (
    <div className="page">
      <Header user={user} onSignOut={onSignOut} />
      <main className="home">
        <h1>Rooms</h1>
        <form className="new-room" onSubmit={create}>
          <input data-testid="new-room-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="room name (empty: a random one)" />
          <button data-testid="new-room" type="submit">
            New room
          </button>
        </form>
        {error && <p className="error">{error}</p>}
        <ul data-testid="room-list" className="room-list">
          {rooms?.length === 0 && <li className="muted">No open rooms yet. Create one.</li>}
          {rooms?.map((r) => (
            <li key={r.id} data-testid="room-item" data-room={r.id}>
              <a href={`/r/${encodeURIComponent(r.id)}`} onClick={(e) => (e.preventDefault(), navigate(`/r/${encodeURIComponent(r.id)}`))}>
                {r.id}
              </a>
              <span className="muted">{r.participants} here</span>
            </li>
          ))}
        </ul>
      </main>
    </div>
  )
}
