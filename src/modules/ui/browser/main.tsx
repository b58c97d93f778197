/**
 * The IceProd dashboard (API.md §9): sign-in, then the view the address
 * names. Preact renders everything; text from the API goes in as text.
 */
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { claimsOf, session, whenUnauthorized } from './api'
import { followLink, hrefOf, useView } from './router'
import './style.css'
import { Dataset } from './views/Dataset'
import { Datasets } from './views/Datasets'
import { Grids } from './views/Grids'
import { SignIn } from './views/SignIn'
import { Task } from './views/Task'

function App() {
  const [token, setToken] = useState(session.token())
  const [notice, setNotice] = useState<string | undefined>()
  const view = useView()
  useEffect(
    () =>
      whenUnauthorized((message) => {
        session.signOut()
        setNotice(`Signed out: the server refused the token (${message}).`)
        setToken(null)
      }),
    [],
  )
  useEffect(() => {
    document.title = `IceProd · ${view.name === 'grids' ? 'Grids' : view.name === 'task' ? 'Task' : view.name === 'dataset' ? 'Dataset' : 'Datasets'}`
  }, [view])
  if (!token) {
    return (
      <SignIn
        notice={notice}
        onSignIn={(value) => {
          session.signIn(value)
          setNotice(undefined)
          setToken(value)
        }}
      />
    )
  }
  const claims = claimsOf(token)
  return (
    <div onClick={followLink}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={hrefOf({ name: 'datasets' })}>
          IceProd
        </a>
        <nav aria-label="Main">
          <a href={hrefOf({ name: 'datasets' })} aria-current={view.name === 'datasets' ? 'page' : undefined}>
            Datasets
          </a>
          <a href={hrefOf({ name: 'grids' })} aria-current={view.name === 'grids' ? 'page' : undefined}>
            Grids
          </a>
        </nav>
        <span class="who">
          {claims?.username || 'unknown'} <span class="muted">({claims?.role})</span>
        </span>
        <button
          type="button"
          onClick={() => {
            session.signOut()
            setToken(null)
          }}
        >
          Sign out
        </button>
      </header>
      {view.name === 'datasets' && <Datasets />}
      {view.name === 'dataset' && <Dataset key={view.datasetId} datasetId={view.datasetId} />}
      {view.name === 'task' && <Task key={view.taskId} datasetId={view.datasetId} taskId={view.taskId} />}
      {view.name === 'grids' && <Grids />}
      {view.name === 'missing' && (
        <main id="main">
          <h1>No such page</h1>
          <p>
            <a href={hrefOf({ name: 'datasets' })}>Go to the datasets</a>
          </p>
        </main>
      )}
    </div>
  )
}

render(<App />, document.getElementById('app')!)
