// supabase-js (realtime-js vsn 2.0.0 by default) against the devstack. Run by
// tests/devstack/test_supabase_js.py when SEER_SUPABASE_JS_DIR names a folder whose node_modules
// holds @supabase/supabase-js and ws (npm install @supabase/supabase-js@2 ws).
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
const [url, anon] = process.argv.slice(2);
const ADV = '00000000-0000-4000-8000-00000000a001';
const log = (...a) => console.log(...a);
const wait = (ms) => new Promise(r => setTimeout(r, ms));
async function until(pred, what, ms = 5000) { const t = Date.now(); while (!pred()) { if (Date.now() - t > ms) throw new Error('timeout: ' + what); await wait(20); } }
function mk() { return createClient(url, anon, { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws } }); }
const seer = mk(), player = mk(), stranger = mk();
const s1 = await seer.auth.signUp({ email: `js-seer-${Date.now()}@example.com`, password: 'secret-123' });
const p1 = await player.auth.signUp({ email: `js-player-${Date.now()}@example.com`, password: 'secret-123' });
const x1 = await stranger.auth.signUp({ email: `js-x-${Date.now()}@example.com`, password: 'secret-123' });
if (s1.error || p1.error || x1.error) throw s1.error || p1.error || x1.error;
const bad = await seer.auth.signInWithPassword({ email: s1.data.user.email, password: 'nope-nope' });
log('wrong password ->', bad.error?.status, bad.error?.code, bad.error?.message);
const { data: session, error: e1 } = await seer.rpc('create_session', { p_adventure_id: ADV });
if (e1) throw e1;
const sid = session.id; const topic = `session:${sid}`;
const { error: e404 } = await player.rpc('get_session', { p_session_id: sid });
log('player get_session before joining ->', e404?.code, e404?.message);
const seerMsgs = []; let seerSync = {};
await seer.realtime.setAuth(s1.data.session.access_token);
const sc = seer.channel(topic, { config: { private: true, presence: { key: s1.data.user.id }, broadcast: { self: false, ack: true } } })
  .on('broadcast', { event: '*' }, (m) => seerMsgs.push(m))
  .on('presence', { event: 'sync' }, () => { seerSync = sc.presenceState(); });
await new Promise((res, rej) => sc.subscribe((st, err) => { log('seer channel:', st, err?.message ?? ''); if (st === 'SUBSCRIBED') res(); else if (st !== 'CLOSED') rej(err); }));
await sc.track({ role: 'seer' });
const { data: ch } = await player.rpc('create_character', { p_name: 'Jay', p_class: 'bard' });
const { error: ej } = await player.rpc('join_session', { p_session_id: sid, p_character_id: ch.id });
if (ej) throw ej;
await until(() => seerMsgs.some(m => m.event === 'player_joined'), 'player_joined from the database');
const pj = seerMsgs.find(m => m.event === 'player_joined');
log('seer got DB broadcast:', pj.event, 'seq', pj.payload.seq, 'meta.id==payload.id', pj.meta?.id === pj.payload.id);
await player.realtime.setAuth(p1.data.session.access_token);
const pc = player.channel(topic, { config: { private: true, presence: { key: p1.data.user.id } } });
await new Promise((res, rej) => pc.subscribe((st, err) => { log('player channel:', st, err?.message ?? ''); if (st === 'SUBSCRIBED') res(); else rej(err); }));
await pc.track({ role: 'player' });
await until(() => Object.keys(seerSync).length === 2, 'presence sync with 2 keys');
log('seer presence keys:', Object.keys(seerSync).length);
const r = await pc.send({ type: 'broadcast', event: 'move', payload: { to: 'north' } });
log('player send ->', r);
// Only the database broadcasts on the session topic: a participant's broadcast is dropped.
await new Promise((res) => setTimeout(res, 500));
log('seer got participant broadcast on the session topic:', seerMsgs.some(m => m.event === 'move'));
await stranger.realtime.setAuth(x1.data.session.access_token);
const xc = stranger.channel(topic, { config: { private: true } });
const xs = await new Promise((res) => xc.subscribe((st, err) => res([st, err?.message])));
log('stranger channel:', xs[0], xs[1]);
await stranger.removeChannel(xc);
await player.removeChannel(pc);
await until(() => Object.keys(seerSync).length === 1, 'presence leave');
log('seer presence after player left:', Object.keys(seerSync).length);
await seer.removeAllChannels();
log('OK');
process.exit(0);
