import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import { fileURLToPath } from 'node:url'

// The app is served by `yard serve` from the same origin, so every API and WebSocket path is
// relative. `vite` (dev) proxies them to a local server on YARD_DEV_SERVER (default :8080).
const root = fileURLToPath(new URL('.', import.meta.url))
const target = process.env.YARD_DEV_SERVER ?? 'http://127.0.0.1:8080'

export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target },
      '/ws': { target, ws: true },
    },
  },
})
