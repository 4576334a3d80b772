# Patchbay: one image for every role (start, api, worker, migrate). See README.md, "Deploying with Docker".

# --- build: every dependency, compile src/ to dist/, then drop the development dependencies --------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY drizzle ./drizzle
COPY scripts ./scripts
# `npm ci` runs the package's prepare script, which builds dist/ (`npm run build`: tsc, the assets, the bundle).
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

# --- runtime: compiled code, production dependencies and the migrations; no compiler, no sources --------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/patchbay
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/drizzle ./drizzle
# DATA_DIR belongs to the unprivileged user the processes run as (the image's `node` user, uid 1000); with the
# embedded database it holds the PostgreSQL cluster and the key ring, so mount a volume there.
RUN mkdir -p /var/lib/patchbay && chown node:node /var/lib/patchbay
USER node
VOLUME ["/var/lib/patchbay"]
EXPOSE 8080
# /readyz answers 200 once the database is reachable and every migration is applied. The image has no curl:
# Node's own fetch asks. Worker and migrate containers serve no HTTP; docker-compose.yml turns it off for them.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["start"]
