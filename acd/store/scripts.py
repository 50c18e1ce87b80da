"""Lua scripts that change ACD state atomically in Redis.

Every state change happens inside one script: the agent and call hashes, the
queue sorted sets, the interval counters, the event stream and the change
notification move together, so two ACD processes sharing one Redis can never
hand one agent two calls or one call to two agents.

Calling convention: ``KEYS[1]`` is the installation's ``agents`` key; every
other key a script touches shares its ``{hash tag}`` (see :mod:`acd.store.keys`),
so the scripts run unchanged on Redis Cluster. ``ARGV[1]`` prefix,
``ARGV[2]`` now (epoch seconds), ``ARGV[3]`` retention seconds, ``ARGV[4]``
stream max length, then the script's own arguments from ``ARGV[5]``.

Leases (instance liveness ``instance:{id}``, an agent's reservation
``resv:{agent}``) are keys with a TTL, so they expire on Redis's own clock,
never by comparing the clocks of different hosts.
"""

from __future__ import annotations

from acd.core import agent_rules
from acd.core.intervals import WAIT_BUCKETS

PRELUDE = r"""
local P = ARGV[1]
local NOW_S = ARGV[2]
local NOW = tonumber(ARGV[2])
local RETENTION = tonumber(ARGV[3])
local MAXLEN = ARGV[4]
local function akey(id) return P .. 'agent:' .. id end
local function ckey(id) return P .. 'call:' .. id end
local function hget(k, f)
  local v = redis.call('HGET', k, f)
  if v == false then return nil end
  return v
end
local function num(v, d) if v == nil or v == '' then return d end; return tonumber(v) or d end
-- A refused change: "ACD <code> <json data>", mapped to an AcdError class by
-- acd.store.store (one table); nothing has been written when a script fails.
local function fail(code, data)
  return redis.error_reply('ACD ' .. code .. ' ' .. cjson.encode(data))
end

-- The oldest interval each queue's counters were changed in by this script:
-- the change message names them, so a board re-reads a late count at once.
local TOUCHED = {}

local function count(queue, at, field, n)
  local iv = math.floor(at / 900) * 900
  if TOUCHED[queue] == nil or iv < TOUCHED[queue] then TOUCHED[queue] = iv end
  local k = P .. 'stats:' .. queue .. ':' .. string.format('%d', iv)
  redis.call('HINCRBYFLOAT', k, field, n)
  redis.call('EXPIRE', k, RETENTION)
  local idx = P .. 'stats:index:' .. queue
  redis.call('ZADD', idx, iv, string.format('%d', iv))
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', NOW - RETENTION)
  redis.call('SADD', P .. 'queues', queue)
end

-- Available idle time (in the available set: logged in, free, phone reachable
-- and not in use) since ``from``, added to each of the agent's queues'
-- ``idle_seconds`` counters, split at interval boundaries (occupancy).
local function add_idle(k, from)
  local queues = hget(k, 'queues') or ''
  if queues == '' or from >= NOW then return end
  for q in string.gmatch(queues, '[^,]+') do
    local t = from
    while t < NOW do
      local upto = math.min((math.floor(t / 900) + 1) * 900, NOW)
      count(q, t, 'idle_seconds', upto - t)
      t = upto
    end
  end
end

local function sync_available(id)
  local k = akey(id)
  local st = hget(k, 'state')
  local was = redis.call('ZSCORE', P .. 'available', id) ~= false
  if st == 'available' and hget(k, 'reachable') == '1' and hget(k, 'phone_busy') ~= '1' then
    redis.call('ZADD', P .. 'available', num(hget(k, 'idle_since'), NOW), id)
    if not was then redis.call('HSET', k, 'avail_since', NOW_S) end
  elseif was then
    add_idle(k, num(hget(k, 'avail_since'), NOW))
    redis.call('ZREM', P .. 'available', id)
  end
end

local function event(kind, ...)
  redis.call('XADD', P .. 'events', 'MAXLEN', '~', MAXLEN, '*', 'type', kind, 'at', NOW_S, ...)
end

local function changed(kind, queue, agent)
  local message = {kind = kind, queue = queue or '', agent = agent or '', at = NOW}
  if next(TOUCHED) ~= nil then message.intervals = TOUCHED end
  redis.call('PUBLISH', P .. 'changes', cjson.encode(message))
end

local function set_agent_state(id, state)
  local k = akey(id)
  local old = hget(k, 'state') or 'logged_out'
  redis.call('HSET', k, 'state', state, 'state_since', NOW_S)
  if state == 'available' then
    redis.call('HSET', k, 'idle_since', NOW_S)
  end
  sync_available(id)
  event('agent_state', 'agent', id, 'from', old, 'to', state,
        'reason', hget(k, 'pause_reason') or '', 'queue', hget(k, 'queue') or '')
  changed('agent', hget(k, 'queue') or '', id)
end

local function unqueue(call_id, queue)
  redis.call('ZREM', P .. 'queue:' .. queue .. ':waiting', call_id)
  redis.call('ZREM', P .. 'queue:' .. queue .. ':arrivals', call_id)
  redis.call('SREM', P .. 'queue:' .. queue .. ':callbacks', call_id)
end

-- (Back) in the queue's waiting order; a callback also in the queue's set of
-- waiting callbacks (the wallboard counts it without reading every call).
local function queue_waiting(call_id, queue, score, arrival)
  redis.call('ZADD', P .. 'queue:' .. queue .. ':waiting', score, call_id)
  redis.call('ZADD', P .. 'queue:' .. queue .. ':arrivals', arrival, call_id)
  if hget(ckey(call_id), 'kind') == 'callback' then
    redis.call('SADD', P .. 'queue:' .. queue .. ':callbacks', call_id)
  end
end

local function finish_call(call_id, outcome)
  local k = ckey(call_id)
  local owner = hget(k, 'owner') or ''
  redis.call('HSET', k, 'state', 'done', 'outcome', outcome, 'ended', NOW_S)
  redis.call('SREM', P .. 'calls:active', call_id)
  redis.call('SREM', P .. 'owner:' .. owner, call_id)
  redis.call('EXPIRE', k, 86400)
end

-- The finished contact: one event in the stream, and a short summary kept
-- for HISTORY_DAYS in the caller's history (the agent panel shows it).
local HISTORY_KEEP = 20
local HISTORY_SECONDS = 90 * 86400
local CONTACT_FIELDS = {'caller_id', 'caller_name', 'queue', 'agent', 'outcome', 'arrival',
                        'wait', 'talk', 'disposition', 'disposition_by', 'note', 'csat', 'kind'}
local function contact_record(call_id)
  local k = ckey(call_id)
  local h = redis.call('HGETALL', k)
  event('contact', unpack(h))
  local caller = hget(k, 'caller_id') or ''
  if caller == '' or caller == 'unknown' then return end
  local ctk = P .. 'contact:' .. call_id
  local vals = redis.call('HMGET', k, unpack(CONTACT_FIELDS))
  local pairs_ = {'id', call_id}
  for i, f in ipairs(CONTACT_FIELDS) do
    if vals[i] then pairs_[#pairs_ + 1] = f; pairs_[#pairs_ + 1] = vals[i] end
  end
  redis.call('HSET', ctk, unpack(pairs_))
  redis.call('EXPIRE', ctk, HISTORY_SECONDS)
  local hk = P .. 'history:' .. caller
  redis.call('ZADD', hk, num(hget(k, 'arrival'), NOW), call_id)
  redis.call('ZREMRANGEBYRANK', hk, 0, -(HISTORY_KEEP + 1))
  redis.call('EXPIRE', hk, HISTORY_SECONDS)
end

local function bucket(w)
  for _, b in ipairs(BUCKETS) do if w <= b then return 'wait_le_' .. b end end
  return 'wait_gt_' .. BUCKETS[#BUCKETS]
end

-- Reserve agent aid for waiting call cid (both checked by the caller), with
-- a reservation lease of lease_ms (a little longer than the ring timeout).
local function offer(cid, aid, lease_ms)
  local ck = ckey(cid)
  local queue = hget(ck, 'queue')
  unqueue(cid, queue)
  redis.call('HSET', ck, 'state', 'ringing', 'agent', aid, 'ring_started', NOW_S)
  redis.call('HSET', akey(aid), 'call_id', cid, 'queue', queue)
  redis.call('SET', P .. 'resv:' .. aid, cid, 'PX', lease_ms)
  redis.call('SADD', P .. 'ringing', aid)
  -- the queue's last offered agent: round robin continues after it, in
  -- whichever ACD process makes the next offer
  redis.call('SET', P .. 'last_assigned:' .. queue, aid)
  set_agent_state(aid, 'ringing')
  event('call_offered', 'call', cid, 'queue', queue, 'agent', aid)
  changed('call', queue, aid)
end

-- The ringing call cid was answered by aid at time at_s: counters, states.
local function record_answer(cid, aid, at_s, target)
  local ck = ckey(cid)
  local ak = akey(aid)
  local at = tonumber(at_s)
  local queue = hget(ck, 'queue')
  local arrival = num(hget(ck, 'arrival'), at)
  local wait = math.max(0, at - arrival)
  redis.call('HSET', ck, 'state', 'on_call', 'answered', at_s, 'wait', tostring(wait))
  -- The agent moves only when Redis still knows it reserved for this call
  -- (after a reset it may be logged out: the call is counted, the agent left).
  if hget(ak, 'call_id') == cid then
    redis.call('DEL', P .. 'resv:' .. aid)
    redis.call('SREM', P .. 'ringing', aid)
    redis.call('HSET', ak, 'missed', '0')
    redis.call('HINCRBY', ak, 'calls', 1)
    set_agent_state(aid, 'on_call')
  end
  local qa = num(hget(ck, 'queue_arrival'), arrival)
  count(queue, qa, 'answered', 1)
  if wait <= target then count(queue, qa, 'answered_within_target', 1) end
  count(queue, qa, 'wait_seconds', wait)
  count(queue, qa, bucket(wait), 1)
  if hget(ck, 'kind') == 'callback' then count(queue, qa, 'callback_answered', 1) end
  event('call_answered', 'call', cid, 'queue', queue, 'agent', aid, 'wait', tostring(wait))
end

-- Back to available without losing its place in the longest-idle order
-- (a ring that was not the agent's doing, or a missed ring).
local function available_in_place(aid)
  local ak = akey(aid)
  local idle = hget(ak, 'idle_since')
  set_agent_state(aid, 'available')
  if idle then
    redis.call('HSET', ak, 'idle_since', idle)
    sync_available(aid)
  end
end

-- A reservation ended without a conversation and not by the agent's doing
-- (the caller left, the lease ran out, the phone line failed): a pending
-- logout or pause applies now, else the agent keeps its longest-idle place.
local function free_reserved(aid)
  local ak = akey(aid)
  redis.call('HSET', ak, 'call_id', '', 'queue', '')
  redis.call('DEL', P .. 'resv:' .. aid)
  redis.call('SREM', P .. 'ringing', aid)
  local pending = hget(ak, 'pending')
  redis.call('HSET', ak, 'pending', '')
  if pending == 'logout' then
    set_agent_state(aid, 'logged_out')
    return 'logged_out'
  elseif pending == 'pause' then
    redis.call('HSET', ak, 'pause_reason', hget(ak, 'pending_reason') or '')
    set_agent_state(aid, 'paused')
    return 'paused'
  end
  available_in_place(aid)
  return 'available'
end

-- A waiting or ringing caller leaves for good without an agent.
local function leave_call(cid, outcome, short)
  local ck = ckey(cid)
  local st = hget(ck, 'state')
  local queue = hget(ck, 'queue') or ''
  unqueue(cid, queue)
  local aid = hget(ck, 'agent') or ''
  if st == 'ringing' and aid ~= '' then
    local ak = akey(aid)
    if hget(ak, 'state') == 'ringing' and hget(ak, 'call_id') == cid then
      -- the caller left while the agent's phone rang: not the agent's miss
      free_reserved(aid)
    end
  end
  local arrival = num(hget(ck, 'arrival'), NOW)
  local qa = num(hget(ck, 'queue_arrival'), arrival)
  local wait = math.max(0, NOW - arrival)
  redis.call('HSET', ck, 'wait', tostring(wait))
  if outcome == 'abandoned' then
    count(queue, qa, 'abandoned', 1)
    count(queue, qa, 'abandon_wait_seconds', wait)
    if wait < short then
      count(queue, qa, 'short_abandoned', 1)
      outcome = 'short_abandoned'
    end
  elseif outcome == 'timed_out' or outcome == 'overflowed' then
    count(queue, qa, 'timed_out', 1)
  elseif outcome == 'lost' then
    count(queue, qa, 'lost', 1)
  end
  finish_call(cid, outcome)
  contact_record(cid)
  changed('call', queue, aid)
  return outcome, wait, aid
end

-- forward declaration: end_wrap_up uses release_agent, defined below
local release_agent

-- A wrap-up is over (its time ran out, or the disposition ended it): the
-- handle time is counted, the contact recorded, the agent released.
local function end_wrap_up(aid)
  local ak = akey(aid)
  redis.call('ZREM', P .. 'wrapups', aid)
  local cid = hget(ak, 'call_id') or ''
  if cid ~= '' then
    local ck = ckey(cid)
    local queue = hget(ck, 'queue')
    if queue then
      local talk = num(hget(ck, 'talk'), 0)
      local wrap = num(hget(ck, 'wrap'), 0)
      local qa = num(hget(ck, 'queue_arrival'), NOW)
      count(queue, qa, 'handle_seconds', talk + wrap)
      count(queue, qa, 'wrap_seconds', wrap)
      count(queue, qa, 'handled', 1)
      contact_record(cid)
    end
  end
  release_agent(aid)
end

-- The agent's call is fully over: apply a pending logout or pause, else
-- the agent is available again.
release_agent = function(aid)
  local ak = akey(aid)
  redis.call('HSET', ak, 'call_id', '', 'queue', '', 'wrap_until', '')
  redis.call('DEL', P .. 'resv:' .. aid)
  redis.call('SREM', P .. 'ringing', aid)
  local pending = hget(ak, 'pending')
  redis.call('HSET', ak, 'pending', '')
  if pending == 'logout' then set_agent_state(aid, 'logged_out')
  elseif pending == 'pause' then
    redis.call('HSET', ak, 'pause_reason', hget(ak, 'pending_reason') or '')
    set_agent_state(aid, 'paused')
  else set_agent_state(aid, 'available') end
end
"""
PRELUDE = (
    "local BUCKETS = {" + ", ".join(str(b) for b in WAIT_BUCKETS) + "}\n" + PRELUDE
)

# ARGV[5..]: queue, at (epoch), then field/amount pairs: add to the counters
# of the interval holding ``at`` (history imported or simulated; the ACD's own
# counting happens inside the scripts that change state).
ADD_COUNTERS = PRELUDE + r"""
local queue = ARGV[5]
local at = tonumber(ARGV[6])
for i = 7, #ARGV - 1, 2 do count(queue, at, ARGV[i], tonumber(ARGV[i + 1])) end
changed('stats', queue, '')
return 1
"""

# ARGV[5..]: agent id, name, endpoint, queues (comma-separated: idle time is
# counted to them)
ENSURE_AGENT = PRELUDE + r"""
local id = ARGV[5]
local k = akey(id)
redis.call('SADD', P .. 'agents', id)
redis.call('HSET', k, 'id', id, 'name', ARGV[6], 'endpoint', ARGV[7], 'queues', ARGV[8] or '')
if redis.call('HEXISTS', k, 'state') == 0 then
  redis.call('HSET', k, 'state', 'logged_out', 'state_since', NOW_S, 'reachable', '0',
             'missed', '0', 'calls', '0', 'talk_seconds', '0', 'pause_reason', '',
             'queue', '', 'call_id', '', 'wrap_until', '', 'idle_since', NOW_S)
end
sync_available(id)
return 1
"""

# ARGV[5..]: agent id, action (login|logout|pause|unpause), reason, by (who
# asked, when not the agent: a supervisor's id, recorded in the stream)
AGENT_COMMAND = PRELUDE + agent_rules.lua_table() + r"""
local id = ARGV[5]
local action = ARGV[6]
local reason = ARGV[7]
local by = ARGV[8] or ''
local k = akey(id)
if redis.call('SISMEMBER', P .. 'agents', id) == 0 then
  return fail('unknown_agent', {agent = id})
end
local st = hget(k, 'state') or 'logged_out'
local pending = hget(k, 'pending') or ''
if pending ~= 'pause' and pending ~= 'logout' then pending = '' end
local rule = RULES[st .. '|' .. action .. '|' .. pending]
if rule == nil then
  return fail('invalid_transition', {agent = id, action = action, state = st})
end
if by ~= '' then
  event('agent_command', 'agent', id, 'action', action, 'reason', reason, 'by', by)
end
for i = 3, #rule do
  local effect = rule[i]
  if effect == 'start_shift' then
    redis.call('HSET', k, 'missed', '0', 'calls', '0', 'talk_seconds', '0', 'pause_reason', '',
               'pending', '', 'queue', '', 'call_id', '')
  elseif effect == 'set_reason' then
    redis.call('HSET', k, 'pause_reason', reason)
  elseif effect == 'clear_reason' then
    redis.call('HSET', k, 'pause_reason', '', 'pending', '')
  elseif effect == 'clear_missed' then
    redis.call('HSET', k, 'missed', '0')
  elseif effect == 'mark_pending' then
    if action == 'pause' then
      redis.call('HSET', k, 'pending', 'pause', 'pending_reason', reason)
      event('agent_pending', 'agent', id, 'pending', 'pause', 'reason', reason)
    else
      redis.call('HSET', k, 'pending', action)
      event('agent_pending', 'agent', id, 'pending', action)
    end
  elseif effect == 'clear_pending' then
    redis.call('HSET', k, 'pending', '')
  end
end
local to = rule[2]
if to ~= '' and to ~= st then
  set_agent_state(id, to)
  return {rule[1], to}
end
if #rule > 2 then changed('agent', '', id) end
return {rule[1], st}
"""

# ARGV[5..]: agent id, reachable ('1'|'0')
SET_REACHABLE = PRELUDE + r"""
local id = ARGV[5]
local k = akey(id)
if redis.call('SISMEMBER', P .. 'agents', id) == 0 then return 0 end
if hget(k, 'reachable') == ARGV[6] then return 0 end
redis.call('HSET', k, 'reachable', ARGV[6])
sync_available(id)
event('agent_presence', 'agent', id, 'reachable', ARGV[6])
changed('agent', '', id)
return 1
"""

# ARGV[5..]: call id, queue, score, arrival, max_length, queue arrival, then
# field/value pairs. Also puts back a caller whose live session found its
# call gone (Redis came back without it, or a peer wrongly recorded it lost):
# "offered" is counted once per queue, and a "lost" mark is taken back.
ENQUEUE = PRELUDE + r"""
local id = ARGV[5]
local queue = ARGV[6]
local score = ARGV[7]
local arrival = ARGV[8]
local max_length = tonumber(ARGV[9])
local qarrival = ARGV[10]
local wkey = P .. 'queue:' .. queue .. ':waiting'
local k = ckey(id)
local st = hget(k, 'state')
if st == 'waiting' or st == 'ringing' or st == 'on_call' then
  return fail('call_active', {call = id})
end
if max_length > 0 and redis.call('ZCARD', wkey) >= max_length then
  -- refused by a full queue: offered here, and left it (timed out)
  if hget(k, 'offered_in') ~= queue then
    count(queue, tonumber(qarrival), 'offered', 1)
    count(queue, tonumber(qarrival), 'timed_out', 1)
  end
  event('call_refused', 'call', id, 'queue', queue, 'why', 'full')
  changed('call', queue, '')
  return {'full', 0}
end
if st == 'done' and hget(k, 'outcome') == 'lost' then
  local lq = hget(k, 'queue') or queue
  count(lq, num(hget(k, 'queue_arrival'), NOW), 'lost', -1)
end
local fields = {}
for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call('HSET', k, unpack(fields)) end
local counted = hget(k, 'offered_in')
redis.call('HSET', k, 'id', id, 'queue', queue, 'state', 'waiting', 'agent', '',
           'queue_arrival', qarrival, 'arrival', arrival, 'outcome', '', 'ended', '',
           'offered_in', queue)
redis.call('PERSIST', k)
queue_waiting(id, queue, score, arrival)
redis.call('SADD', P .. 'calls:active', id)
redis.call('SADD', P .. 'owner:' .. (hget(k, 'owner') or ''), id)
if counted ~= queue then count(queue, tonumber(qarrival), 'offered', 1) end
event('call_enqueued', 'call', id, 'queue', queue, 'caller_id', hget(k, 'caller_id') or '')
changed('call', queue, '')
return {'ok', redis.call('ZRANK', wkey, id) + 1}
"""

# ARGV[5..]: call id, reservation lease (ms), then agent ids in order of
# preference: reserves the first one still available, so concurrent arrivals
# do not all collide on the same longest-idle agent. Returns the agent id, or
# '' when none was.
CLAIM_FIRST = PRELUDE + r"""
local cid = ARGV[5]
local lease = ARGV[6]
local ck = ckey(cid)
if hget(ck, 'state') ~= 'waiting' then return '' end
for i = 7, #ARGV do
  local aid = ARGV[i]
  local ak = akey(aid)
  if hget(ak, 'state') == 'available' and hget(ak, 'reachable') == '1'
     and hget(ak, 'phone_busy') ~= '1' then
    offer(cid, aid, lease)
    return aid
  end
end
return ''
"""

# ARGV[5..]: call id, agent id, auto_pause_after, dial status, score, ring end class
RING_MISSED = PRELUDE + r"""
local cid = ARGV[5]
local aid = ARGV[6]
local limit = tonumber(ARGV[7])
local status = ARGV[8]
local ring_end = ARGV[10]  -- acd.core.routing.ring_end(status)
local ck = ckey(cid)
local ak = akey(aid)
local result = 'none'
local unreachable = ring_end == 'unreachable'
local is_miss = ring_end == 'missed'
  or (ring_end == 'missed_unless_in_use' and hget(ak, 'phone_busy') ~= '1')
if hget(ak, 'state') == 'ringing' and hget(ak, 'call_id') == cid
   and not is_miss and not unreachable then
  event('agent_ring_ended', 'agent', aid, 'call', cid, 'status', status)
  result = free_reserved(aid)
elseif hget(ak, 'state') == 'ringing' and hget(ak, 'call_id') == cid then
  redis.call('DEL', P .. 'resv:' .. aid)
  redis.call('SREM', P .. 'ringing', aid)
  local missed
  if unreachable then
    -- The phone could not be reached: not the person's miss. Presence says
    -- unreachable until the phone registers again (or the periodic resync).
    missed = num(hget(ak, 'missed'), 0)
    redis.call('HSET', ak, 'reachable', '0')
    event('agent_presence', 'agent', aid, 'reachable', '0', 'why', 'CHANUNAVAIL')
  else
    missed = redis.call('HINCRBY', ak, 'missed', 1)
  end
  redis.call('HSET', ak, 'call_id', '', 'queue', '')
  event('agent_missed', 'agent', aid, 'call', cid, 'status', status, 'missed', tostring(missed))
  if hget(ak, 'pending') == 'logout' then
    redis.call('HSET', ak, 'pending', '')
    set_agent_state(aid, 'logged_out')
    result = 'logged_out'
  elseif limit > 0 and missed >= limit then
    redis.call('HSET', ak, 'pause_reason', 'auto-paused: ' .. missed .. ' missed calls',
               'pending', '')
    set_agent_state(aid, 'paused')
    result = 'auto_paused'
  elseif hget(ak, 'pending') == 'pause' then
    redis.call('HSET', ak, 'pause_reason', hget(ak, 'pending_reason') or '', 'pending', '')
    set_agent_state(aid, 'paused')
    result = 'paused'
  else
    available_in_place(aid)
    result = 'available'
  end
end
if hget(ck, 'state') == 'ringing' and hget(ck, 'agent') == aid then
  local queue = hget(ck, 'queue')
  local tried = hget(ck, 'tried') or ''
  if tried ~= '' then tried = tried .. ',' end
  redis.call('HSET', ck, 'state', 'waiting', 'agent', '', 'tried', tried .. aid)
  queue_waiting(cid, queue, ARGV[9], hget(ck, 'arrival'))
  changed('call', queue, aid)
end
return result
"""

# ARGV[5..]: call id, agent id, answer time, target seconds (the answer
# reconstructed from Dial's ANSWEREDTIME when AMI did not report it)
ANSWERED = PRELUDE + r"""
local cid = ARGV[5]
local aid = ARGV[6]
local ck = ckey(cid)
if hget(ck, 'state') ~= 'ringing' or hget(ck, 'agent') ~= aid then return 0 end
record_answer(cid, aid, ARGV[7], tonumber(ARGV[8]))
return 1
"""

# ARGV[5..]: agent id, call id. That ringing call becomes a conversation; the
# target seconds come from the call hash (written at enqueue).
AGENT_ANSWERED = PRELUDE + r"""
local aid = ARGV[5]
local cid = ARGV[6]
local ak = akey(aid)
if hget(ak, 'state') ~= 'ringing' or hget(ak, 'call_id') ~= cid then return 0 end
local ck = ckey(cid)
if hget(ck, 'state') ~= 'ringing' or hget(ck, 'agent') ~= aid then return 0 end
record_answer(cid, aid, NOW_S, num(hget(ck, 'target'), 120))
return 1
"""

# ARGV[5..]: call id, agent id, wrap seconds
CALL_FINISHED = PRELUDE + r"""
local cid = ARGV[5]
local aid = ARGV[6]
local wrap = tonumber(ARGV[7])
local ck = ckey(cid)
local ak = akey(aid)
if hget(ck, 'state') ~= 'on_call' then return 0 end
local queue = hget(ck, 'queue')
local talk = math.max(0, NOW - num(hget(ck, 'answered'), NOW))
redis.call('HSET', ck, 'talk', tostring(talk), 'wrap', tostring(wrap))
local qa = num(hget(ck, 'queue_arrival'), NOW)
count(queue, qa, 'talk_seconds', talk)
finish_call(cid, 'answered')
if hget(ak, 'call_id') == cid then
  redis.call('HINCRBYFLOAT', ak, 'talk_seconds', talk)
  if wrap > 0 then
    redis.call('HSET', ak, 'wrap_until', string.format('%.17g', NOW + wrap))
    redis.call('ZADD', P .. 'wrapups', NOW + wrap, aid)
    set_agent_state(aid, 'wrap_up')
    return 1
  end
end
-- no wrap-up: count the handle time now
count(queue, qa, 'handle_seconds', talk)
count(queue, qa, 'handled', 1)
contact_record(cid)
if hget(ak, 'call_id') == cid then release_agent(aid) end
return 1
"""

# ARGV[5..]: agent id
WRAP_UP_EXPIRED = PRELUDE + r"""
local aid = ARGV[5]
local ak = akey(aid)
if hget(ak, 'state') ~= 'wrap_up' then
  redis.call('ZREM', P .. 'wrapups', aid)
  return 0
end
if num(hget(ak, 'wrap_until'), 0) > NOW then return 0 end
end_wrap_up(aid)
return 1
"""

# ARGV[5..]: call id, agent id, code, note, resolved ('1'|'0'), end wrap-up ('1'|'0').
# The agent who handled the call records its outcome; the resolution counters
# move with a changed mind; the wrap-up may end now.
SET_DISPOSITION = PRELUDE + r"""
local cid = ARGV[5]
local aid = ARGV[6]
local ck = ckey(cid)
local st = hget(ck, 'state')
if st == nil then return fail('unknown_call', {call = cid}) end
if hget(ck, 'agent') ~= aid or (st ~= 'on_call' and st ~= 'done')
   or hget(ck, 'answered') == nil then
  return fail('not_yours', {call = cid, agent = aid, state = st})
end
local queue = hget(ck, 'queue')
local qa = num(hget(ck, 'queue_arrival'), NOW)
local before = hget(ck, 'resolved')
if before == nil then count(queue, qa, 'dispositioned', 1) end
if ARGV[9] == '1' and before ~= '1' then count(queue, qa, 'resolved', 1) end
if ARGV[9] ~= '1' and before == '1' then count(queue, qa, 'resolved', -1) end
local by = ARGV[11] or ''
redis.call('HSET', ck, 'disposition', ARGV[7], 'note', ARGV[8], 'resolved', ARGV[9],
           'disposition_by', by)
local ctk = P .. 'contact:' .. cid
if redis.call('EXISTS', ctk) == 1 then
  redis.call('HSET', ctk, 'disposition', ARGV[7], 'note', ARGV[8], 'disposition_by', by)
end
if by ~= '' then
  event('disposition', 'call', cid, 'agent', aid, 'code', ARGV[7], 'queue', queue, 'by', by)
else
  event('disposition', 'call', cid, 'agent', aid, 'code', ARGV[7], 'queue', queue)
end
changed('agent', queue, aid)
local ak = akey(aid)
if ARGV[10] == '1' and hget(ak, 'state') == 'wrap_up' and hget(ak, 'call_id') == cid then
  -- the wrap-up took as long as it really took
  local ended = num(hget(ck, 'ended'), NOW)
  redis.call('HSET', ck, 'wrap', tostring(math.max(0, NOW - ended)))
  end_wrap_up(aid)
  return {'ok', 'wrap_up_ended'}
end
return {'ok', hget(ak, 'state') or ''}
"""

# ARGV[5..]: call id, score 1-5. The caller's post-call survey answer.
SURVEY = PRELUDE + r"""
local cid = ARGV[5]
local score = tonumber(ARGV[6])
local ck = ckey(cid)
if hget(ck, 'answered') == nil or hget(ck, 'csat') ~= nil then return 0 end
local queue = hget(ck, 'queue')
local qa = num(hget(ck, 'queue_arrival'), NOW)
redis.call('HSET', ck, 'csat', ARGV[6])
local ctk = P .. 'contact:' .. cid
if redis.call('EXISTS', ctk) == 1 then redis.call('HSET', ctk, 'csat', ARGV[6]) end
count(queue, qa, 'csat_answers', 1)
if score >= 4 then count(queue, qa, 'csat_good', 1) end
event('survey', 'call', cid, 'queue', queue, 'score', ARGV[6])
changed('call', queue, '')
return 1
"""

# ARGV[5..]: call id, owner, number. A caller on hold asks to be called back:
# the call keeps its place (same score) but no socket holds it any more.
CALLBACK_REQUESTED = PRELUDE + r"""
local cid = ARGV[5]
local ck = ckey(cid)
if hget(ck, 'state') ~= 'waiting' or hget(ck, 'owner') ~= ARGV[6] then return 0 end
local queue = hget(ck, 'queue')
redis.call('HSET', ck, 'kind', 'callback', 'callback_number', ARGV[7], 'owner', '',
           'attempts', '0', 'not_before', '0')
redis.call('SREM', P .. 'owner:' .. ARGV[6], cid)
redis.call('SADD', P .. 'queue:' .. queue .. ':callbacks', cid)
count(queue, num(hget(ck, 'queue_arrival'), NOW), 'callback_requested', 1)
event('callback_requested', 'call', cid, 'queue', queue, 'number', ARGV[7])
changed('call', queue, '')
return 1
"""

# ARGV[5..]: call id, agent id, instance, lease (ms). A reserved callback is
# being run: its reservation lease covers ringing the agent and the caller.
CALLBACK_RUNNING = PRELUDE + r"""
local ck = ckey(ARGV[5])
if hget(ck, 'state') ~= 'ringing' or hget(ck, 'agent') ~= ARGV[6] then return 0 end
redis.call('HSET', ck, 'runner', ARGV[7])
redis.call('SET', P .. 'resv:' .. ARGV[6], ARGV[5], 'PX', ARGV[8])
return 1
"""

# ARGV[5..]: call id, agent id, who ('agent'|'caller'), retry seconds, attempts
# allowed, auto-pause limit. A callback attempt did not reach the caller: the
# agent is freed (the agent's miss only when the agent did not answer), the
# callback waits again in its place, or gives up after the last attempt.
CALLBACK_FAILED = PRELUDE + r"""
local cid = ARGV[5]
local aid = ARGV[6]
local who = ARGV[7]
local ck = ckey(cid)
local ak = akey(aid)
if hget(ak, 'state') == 'ringing' and hget(ak, 'call_id') == cid then
  if who == 'agent' then
    -- the agent's missed ring: counted, the next attempt prefers a colleague
    local missed = redis.call('HINCRBY', ak, 'missed', 1)
    event('agent_missed', 'agent', aid, 'call', cid, 'status', 'CALLBACK_NOANSWER')
    local tried = hget(ck, 'tried') or ''
    if tried ~= '' then tried = tried .. ',' end
    redis.call('HSET', ck, 'tried', tried .. aid)
    local limit = tonumber(ARGV[10]) or 0
    if limit > 0 and missed >= limit and hget(ak, 'pending') ~= 'logout' then
      redis.call('HSET', ak, 'call_id', '', 'queue', '', 'pending', '',
                 'pause_reason', 'auto-paused: ' .. missed .. ' missed calls')
      redis.call('DEL', P .. 'resv:' .. aid)
      redis.call('SREM', P .. 'ringing', aid)
      set_agent_state(aid, 'paused')
    else
      free_reserved(aid)
    end
  else
    free_reserved(aid)
  end
end
if hget(ck, 'state') ~= 'ringing' and hget(ck, 'state') ~= 'on_call' then return 'none' end
local queue = hget(ck, 'queue')
local attempts = num(hget(ck, 'attempts'), 0)
if who == 'caller' then attempts = attempts + 1 end
redis.call('HSET', ck, 'attempts', tostring(attempts))
if attempts >= tonumber(ARGV[9]) then
  local qa = num(hget(ck, 'queue_arrival'), NOW)
  count(queue, qa, 'callback_failed', 1)
  redis.call('HSET', ck, 'wait', tostring(math.max(0, NOW - num(hget(ck, 'arrival'), NOW))))
  finish_call(cid, 'callback_failed')
  contact_record(cid)
  changed('call', queue, aid)
  return 'failed'
end
local arrival = num(hget(ck, 'arrival'), NOW)
local score = arrival - num(hget(ck, 'priority'), 0) * 1000000
local not_before = NOW
if who == 'caller' then not_before = NOW + tonumber(ARGV[8]) end
redis.call('HSET', ck, 'state', 'waiting', 'agent', '', 'not_before', tostring(not_before))
queue_waiting(cid, queue, score, arrival)
changed('call', queue, aid)
return 'retry'
"""

# ARGV[5..]: call id, outcome (abandoned|timed_out|overflowed|lost), short threshold
LEAVE = PRELUDE + r"""
local cid = ARGV[5]
local outcome = ARGV[6]
local short = tonumber(ARGV[7])
local ck = ckey(cid)
local st = hget(ck, 'state')
if st ~= 'waiting' and st ~= 'ringing' then return {'none', '0'} end
local result, wait = leave_call(cid, outcome, short)
return {result, tostring(wait)}
"""

# ARGV[5..]: call id, agent id — a call whose agent was on the phone when its
# owning ACD process died; ends it from presence (device no longer in use).
ORPHAN_ENDED = PRELUDE + r"""
local cid = ARGV[5]
local aid = ARGV[6]
local ck = ckey(cid)
if hget(ck, 'state') == 'on_call' then
  local queue = hget(ck, 'queue')
  local talk = math.max(0, NOW - num(hget(ck, 'answered'), NOW))
  local qa = num(hget(ck, 'queue_arrival'), NOW)
  redis.call('HSET', ck, 'talk', tostring(talk), 'wrap', '0')
  count(queue, qa, 'talk_seconds', talk)
  count(queue, qa, 'handle_seconds', talk)
  count(queue, qa, 'handled', 1)
  finish_call(cid, 'answered')
  contact_record(cid)
end
local ak = akey(aid)
local ast = hget(ak, 'state')
if hget(ak, 'call_id') == cid and (ast == 'on_call' or ast == 'ringing') then
  release_agent(aid)
  return 1
end
return 0
"""

# ARGV[5..]: agent id, busy ('1'|'0'): the phone is (not) in use on a call
# the ACD did not make (device state INUSE, BUSY, RINGING, ONHOLD).
SET_PHONE_BUSY = PRELUDE + r"""
local id = ARGV[5]
local k = akey(id)
if redis.call('SISMEMBER', P .. 'agents', id) == 0 then return 0 end
if (hget(k, 'phone_busy') or '0') == ARGV[6] then return 0 end
redis.call('HSET', k, 'phone_busy', ARGV[6])
sync_available(id)
event('agent_phone', 'agent', id, 'busy', ARGV[6])
changed('agent', '', id)
return 1
"""

# ARGV[5..]: (none). Reservations whose lease ran out: the ringing agent is
# freed (a pending logout or pause applies); the call goes back to its queue
# when its owner is alive, else it is recorded lost (the dialplan fallback
# took the caller). Returns the agents freed.
EXPIRE_RESERVATIONS = PRELUDE + r"""
local freed = {}
for _, aid in ipairs(redis.call('SMEMBERS', P .. 'ringing')) do
  if redis.call('EXISTS', P .. 'resv:' .. aid) == 0 then
    local ak = akey(aid)
    local cid = hget(ak, 'call_id') or ''
    redis.call('SREM', P .. 'ringing', aid)
    if hget(ak, 'state') == 'ringing' then
      local ck = ckey(cid)
      if cid ~= '' and hget(ck, 'state') == 'ringing' and hget(ck, 'agent') == aid then
        local owner = hget(ck, 'owner') or ''
        if hget(ck, 'kind') == 'callback' or
           redis.call('EXISTS', P .. 'instance:' .. owner) == 1 then
          local queue = hget(ck, 'queue')
          local arrival = num(hget(ck, 'arrival'), NOW)
          local score = arrival - num(hget(ck, 'priority'), 0) * 1000000
          redis.call('HSET', ck, 'state', 'waiting', 'agent', '')
          queue_waiting(cid, queue, score, arrival)
          free_reserved(aid)
        else
          leave_call(cid, 'lost', 0)
        end
      else
        free_reserved(aid)
      end
      event('reservation_expired', 'agent', aid, 'call', cid)
      freed[#freed + 1] = aid
    end
  end
end
return freed
"""

# ARGV[5..]: instance id. Reaps an ACD process whose lease has expired (the
# check and the clean-up are one step, so two reapers cannot both do it):
# its waiting and ringing callers are recorded lost (the dialplan fallback
# took them) and their agents freed. Conversations end from device states.
# Returns {'alive'} or {'reaped', agents freed...}.
REAP_INSTANCE = PRELUDE + r"""
local inst = ARGV[5]
if redis.call('EXISTS', P .. 'instance:' .. inst) == 1 then return {'alive'} end
local out = {'reaped'}
for _, cid in ipairs(redis.call('SMEMBERS', P .. 'owner:' .. inst)) do
  local st = hget(ckey(cid), 'state')
  if st == 'waiting' or st == 'ringing' then
    local _, _, aid = leave_call(cid, 'lost', 0)
    if aid ~= '' then out[#out + 1] = aid end
  elseif st ~= 'on_call' then
    redis.call('SREM', P .. 'owner:' .. inst, cid)
  end
end
redis.call('SREM', P .. 'instances', inst)
event('instance_reaped', 'instance', inst)
return out
"""

# ARGV[5..]: queue. Waiting entries whose call is gone or no longer waiting
# (a Redis that lost part of its data, a hand edit): removed, so nobody is
# counted as waiting who is not. Returns how many.
PRUNE_WAITING = PRELUDE + r"""
local queue = ARGV[5]
local removed = 0
for _, cid in ipairs(redis.call('ZRANGE', P .. 'queue:' .. queue .. ':waiting', 0, -1)) do
  if hget(ckey(cid), 'state') ~= 'waiting' then
    unqueue(cid, queue)
    removed = removed + 1
  end
end
if removed > 0 then changed('call', queue, '') end
return removed
"""

# ARGV[5..]: call id, agent id, lease (ms), queue, arrival, queue arrival,
# priority, owner, then field/value pairs. This process is dialling (or
# talking through) agent aid for call cid right now: Redis is made to agree
# (a lost or rolled-back write, a reservation taken back while the ring went
# on), and the reservation lease is renewed. Returns 1 when something was repaired.
REASSERT_RING = PRELUDE + r"""
local cid, aid, lease, queue = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local ck = ckey(cid)
local ak = akey(aid)
local st = hget(ck, 'state')
local fixed = 0
if st == nil then
  local fields = {}
  for i = 13, #ARGV do fields[#fields + 1] = ARGV[i] end
  if #fields > 0 then redis.call('HSET', ck, unpack(fields)) end
  redis.call('HSET', ck, 'id', cid, 'queue', queue, 'state', 'ringing', 'agent', aid,
             'arrival', ARGV[9], 'queue_arrival', ARGV[10], 'priority', ARGV[11],
             'owner', ARGV[12], 'offered_in', queue)
  count(queue, num(ARGV[10], NOW), 'offered', 1)
  fixed = 1
elseif st == 'waiting' then
  unqueue(cid, hget(ck, 'queue') or queue)
  redis.call('HSET', ck, 'state', 'ringing', 'agent', aid)
  fixed = 1
elseif st == 'done' and hget(ck, 'outcome') == 'lost' then
  count(hget(ck, 'queue') or queue, num(hget(ck, 'queue_arrival'), NOW), 'lost', -1)
  redis.call('HSET', ck, 'state', 'ringing', 'agent', aid, 'outcome', '', 'ended', '')
  redis.call('PERSIST', ck)
  fixed = 1
elseif st == 'ringing' and hget(ck, 'agent') ~= aid then
  local other = hget(ck, 'agent') or ''
  if other ~= '' and hget(akey(other), 'call_id') == cid and
     hget(akey(other), 'state') == 'ringing' then
    free_reserved(other)
  end
  redis.call('HSET', ck, 'agent', aid)
  fixed = 1
end
if fixed == 1 then
  redis.call('SADD', P .. 'calls:active', cid)
  redis.call('SADD', P .. 'owner:' .. (hget(ck, 'owner') or ''), cid)
end
local ast = hget(ak, 'state')
if ast == 'available' then
  redis.call('HSET', ak, 'call_id', cid, 'queue', hget(ck, 'queue') or queue)
  set_agent_state(aid, 'ringing')
  redis.call('SADD', P .. 'ringing', aid)
  fixed = 1
end
if hget(ak, 'state') == 'ringing' and hget(ak, 'call_id') == cid then
  redis.call('SET', P .. 'resv:' .. aid, cid, 'PX', lease)
  redis.call('SADD', P .. 'ringing', aid)
end
if fixed == 1 then
  event('call_reasserted', 'call', cid, 'agent', aid)
  changed('call', queue, aid)
end
return fixed
"""
