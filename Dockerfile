# interp as a container: `docker build -t interp .` then `docker run --rm interp explain "the film was a delight"`.
# `interp serve` binds to loopback unless told otherwise; in a container, publish it with
# `docker run -p 8080:8080 interp serve --host 0.0.0.0 --port 8080` (set INTERP_TOKEN for a bearer token).

# Build: the same install as CI (npm ci with .npmrc's onnxruntime-node-install=skip, so no CUDA download),
# then TypeScript, then the production dependencies alone.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY src ./src
COPY commands ./commands
COPY server ./server
RUN npm ci && npm prune --omit=dev

# Runtime: the files `npm pack` ships (bin, dist, models, assets) and the production node_modules, run by
# the unprivileged user the Node image provides.
FROM node:20-bookworm-slim
ENV NODE_ENV=production INTERP_CACHE_DIR=/home/node/.cache/interp
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json README.md ./
COPY bin ./bin
COPY models ./models
COPY assets ./assets
RUN ln -s /app/bin/interp.js /usr/local/bin/interp
USER node
ENTRYPOINT ["interp"]
CMD ["--help"]
