import { StrictMode, Suspense, lazy, useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { api, ApiError, getToken, setToken, type User } from './api.ts'
import { useRoute } from './router.ts'
import { Home, Login } from './Home.tsx'
import { setConnector, singleEndpointConnector } from './transport.ts'
import { muxConnector } from './muxConnector.ts'
import { Degraded } from './Degraded.tsx'
import './styles.css'

// One multiplexed socket per page; ?transport=single uses a WebSocket per channel on the
// single-purpose endpoints instead (for debugging with browser tools).
setConnector(new URLSearchParams(location.search).get('transport') === 'single' ? singleEndpointConnector : muxConnector)

// The room (canvas, xterm.js) and admin pages load on demand so the sign-in page stays small.
const RoomPage = lazy(() => import('./RoomPage.tsx'))
const AdminPage = lazy(() => import('./AdminPage.tsx'))

function App() {
  const route = useRoute()
  // undefined: still asking the server who we are.
  const [user, setUser] = useState<User | null | undefined>(getToken() ? undefined : null)
  const [error, setError] = useState('')

  useEffect(() => {
    if (user !== undefined) return
    api.me().then(setUser, (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) {
        setToken(null)
        setUser(null)
      } else setError(`cannot reach the server: ${(e as Error).message}`)
    })
  }, [user])

  useEffect(() => {
    const on = () => {
      setToken(null)
      setUser(null)
    }
    addEventListener('yard:unauthorized', on)
    return () => removeEventListener('yard:unauthorized', on)
  }, [])

  if (error) return <div className="center-msg">{error}</div>
  if (user === undefined) return <div className="center-msg">Loading…</div>
  const signOut = () => {
    setToken(null)
    setUser(null)
  }
  if (!user) return <Login onSignedIn={setUser} />
  return (
    <Suspense fallback={<div className="center-msg">Loading…</div>}>
      {route.name === 'room' ? (
        <RoomPage key={route.room} room={route.room} user={user} onSignOut={signOut} />
      ) : route.name === 'admin' ? (
        user.admin ? (
          <AdminPage user={user} onSignOut={signOut} />
        ) : (
          <div className="center-msg" data-testid="admin-forbidden">
            The presence panel is for admins (members of the admin group).
          </div>
        )
      ) : (
        <Home user={user} onSignOut={signOut} />
      )}
    </Suspense>
  )
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Degraded />
    <App />
  </StrictMode>,
)
