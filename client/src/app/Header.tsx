import type { ReactNode } from 'react'
import type { User } from './api.ts'
import { navigate } from './router.ts'

/** The top bar of every signed-in page: home, what the page adds (children), admin, who, sign out. */
export function Header({ user, onSignOut, children }: { user: User; onSignOut: () => void; children?: ReactNode }) {
  return (
    <header className="topbar">
      <a href="/" className="brand" onClick={(e) => (e.preventDefault(), navigate('/'))}>
        Yard
      </a>
      {children}
      <span className="spacer" />
      {user.admin && (
        <a href="/admin" data-testid="admin-link" onClick={(e) => (e.preventDefault(), navigate('/admin'))}>
          Admin
        </a>
      )}
      <span className="me" data-testid="me" data-user={user.id}>
        {user.display || user.name}
      </span>
      <button className="ghost" data-testid="sign-out" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  )
}
