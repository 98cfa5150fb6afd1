import { useEffect, useState } from 'react'
import { api, itemsOf } from '../api.ts'

export interface Clusters {
  /** The clusters the server knows ([] while loading or when it could not say). */
  clusters: string[]
  /** The cluster new krates and deploys target: the server's default until the person picks one. */
  cluster: string
  setCluster: (c: string) => void
}

/** The room page's clusters: loaded once from GET /api/clusters, and the one selected. */
export function useClusters(): Clusters {
  const [cluster, setCluster] = useState('')
  const [clusters, setClusters] = useState<string[]>([])
  useEffect(() => {
    let alive = true
    api.clusters().then(
      (b) => {
        if (!alive) return
        const names = itemsOf(b).map((c) => String(c.name ?? c.id ?? '')).filter(Boolean)
        setClusters(names)
        const def = itemsOf(b).find((c) => c.default === true)
        setCluster(String(def?.name ?? names[0] ?? ''))
      },
      () => {},
    )
    return () => {
      alive = false
    }
  }, [])
  return { clusters, cluster, setCluster }
}
