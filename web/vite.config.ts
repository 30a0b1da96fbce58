import { defineConfig } from 'vite';

// `npm run dev` proxies the API and websockets to an analyzer
// (SKYDIVE_ANALYZER, default 127.0.0.1:8082).
const target = process.env.SKYDIVE_ANALYZER || '127.0.0.1:8082';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true, // dist/.gitkeep comes back from public/
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': { target: `http://${target}` },
      '/ws': { target: `ws://${target}`, ws: true },
    },
  },
});
