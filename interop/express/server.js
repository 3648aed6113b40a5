// The Express side of the interop tests, and the "Node config" of the migration guide
// (examples/README.md, "Migrating from Express"): express-session on connect-redis,
// connect-pg-simple or connect-mongo, with the same HTTP contract as the Rust examples
// (/api/me, /api/count, /api/login, /api/logout, /api/data/:key).
//
// Environment:
//   PORT                  where to listen (127.0.0.1)
//   SESSION_STORE         redis://…, redis+cluster://h:p,h:p, postgres://…, mongodb://…/<db>
//   SESSION_SECRETS       comma-separated secrets, newest (signing) first
//   SESSION_MAX_AGE_MS    persistent cookies of this lifetime (unset: browser-session cookies)
//   SESSION_EXPRESS_PREFIX  connect-redis key prefix (default sess:)
//   SESSION_EXPRESS_TABLE   connect-pg-simple table, [schema.]table (default session)
//   SESSION_COOKIE_NAME   default connect.sid
'use strict';

const express = require('express');
const session = require('express-session');

const env = (name, fallback) => {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
};

async function openStore(url) {
  if (url.startsWith('redis+cluster://')) {
    const { createCluster } = require('redis');
    const { RedisStore } = require('connect-redis');
    const rootNodes = url
      .slice('redis+cluster://'.length)
      .split(',')
      .filter(Boolean)
      .map((hostPort) => ({ url: `redis://${hostPort}` }));
    const client = createCluster({ rootNodes });
    client.on('error', (e) => console.error('redis cluster:', e.message));
    await client.connect();
    return new RedisStore({ client, prefix: env('SESSION_EXPRESS_PREFIX', 'sess:') });
  }
  if (url.startsWith('redis://')) {
    const { createClient } = require('redis');
    const { RedisStore } = require('connect-redis');
    const client = createClient({ url });
    client.on('error', (e) => console.error('redis:', e.message));
    await client.connect();
    return new RedisStore({ client, prefix: env('SESSION_EXPRESS_PREFIX', 'sess:') });
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { Pool } = require('pg');
    const PgStore = require('connect-pg-simple')(session);
    // expire is `timestamp without time zone`: pin the zone to UTC, as the Rust side
    // writes it (see store-postgres's README).
    const pool = new Pool({ connectionString: url, options: '-c TimeZone=UTC' });
    const [schemaName, tableName] = env('SESSION_EXPRESS_TABLE', 'session').includes('.')
      ? env('SESSION_EXPRESS_TABLE', 'session').split('.', 2)
      : [undefined, env('SESSION_EXPRESS_TABLE', 'session')];
    return new PgStore({ pool, schemaName, tableName, createTableIfMissing: true });
  }
  if (url.startsWith('mongodb://')) {
    const { MongoStore } = require('connect-mongo');
    return MongoStore.create({ mongoUrl: url, collectionName: 'sessions' });
  }
  throw new Error(`unsupported SESSION_STORE ${url}`);
}

// Fields the Rust side keeps on the session besides the application's (see
// session_core::express): never shown as data, kept when Node re-saves.
const NOT_DATA = new Set(['cookie', 'user', 'rustSession']);

async function main() {
  const secrets = env('SESSION_SECRETS', '').split(',').filter(Boolean);
  if (secrets.length === 0) throw new Error('SESSION_SECRETS is required');
  const maxAge = env('SESSION_MAX_AGE_MS') ? Number(env('SESSION_MAX_AGE_MS')) : undefined;
  const store = await openStore(env('SESSION_STORE', ''));
  const app = express();
  // Any JSON value, like the Rust examples' PUT /api/data/:key.
  app.use(express.json({ strict: false }));
  app.get('/health', (_req, res) => res.type('text').send('ok'));
  app.use(
    session({
      name: env('SESSION_COOKIE_NAME', 'connect.sid'),
      secret: secrets,
      store,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, secure: false, sameSite: 'lax', path: '/', maxAge },
    }),
  );

  const me = (req) => ({ user: req.session.user ?? null, count: req.session.count ?? 0 });
  app.get('/api/me', (req, res) => res.json(me(req)));
  app.post('/api/count', (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1;
    res.json({ count: req.session.count });
  });
  // Like the Rust examples' set_user: a new id (no fixation), an anonymous visitor's data
  // kept, another user's data never.
  app.post('/api/login', (req, res, next) => {
    const user = typeof req.body?.user === 'string' ? req.body.user.trim() : '';
    if (!user) return res.status(400).json({ error: 'a user name is required' });
    const kept = {};
    if (!req.session.user) {
      for (const [k, v] of Object.entries(req.session)) if (!NOT_DATA.has(k)) kept[k] = v;
    }
    req.session.regenerate((err) => {
      if (err) return next(err);
      Object.assign(req.session, kept);
      req.session.user = user;
      res.json({ user });
    });
  });
  app.post('/api/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ user: null })));
  });
  const dataKey = (req) => `data:${req.params.key}`;
  app.get('/api/data/:key', (req, res) => {
    const value = req.session[dataKey(req)];
    return value === undefined ? res.status(404).end() : res.json(value);
  });
  app.put('/api/data/:key', (req, res) => {
    req.session[dataKey(req)] = req.body;
    res.json(req.body);
  });
  app.delete('/api/data/:key', (req, res) => {
    delete req.session[dataKey(req)];
    res.status(204).end();
  });
  app.use((err, _req, res, _next) => {
    console.error('error:', err && err.stack ? err.stack : err);
    res.status(500).json({ error: String(err && err.message ? err.message : err) });
  });
  const port = Number(env('PORT', '3001'));
  app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
}

// Started by a test (EXIT_WITH_STDIN=1, a pipe on stdin): leave when the test goes away.
if (process.env.EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

main().catch((e) => {
  console.error('error:', e && e.stack ? e.stack : e);
  process.exit(2);
});
