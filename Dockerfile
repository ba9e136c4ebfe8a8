# One image for every part of the platform; PARTS (broker,ingest,api) selects what a container runs.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts=false
COPY . .
# The monitor console is built with devDependencies (esbuild, MapLibre...), which are then pruned.
RUN node --import tsx console/build.ts && npm prune --omit=dev
ENV BIND_HOST=0.0.0.0 DATA_DIR=/data NODE_ENV=production
VOLUME ["/data"]
EXPOSE 8080 1883 8083 8883 8084 6808
CMD ["node", "--import", "tsx", "platform/main.ts"]
