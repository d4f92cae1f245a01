-- Sample archival_memory for LifeOS.Memory: about 300 rows of a personal assistant's long-term memory.
--
--   psql -v ON_ERROR_STOP=1 -d lifeos_demo -f samples/archival_memory.sql
--
-- Creates the table when it is absent and seeds it only when it is empty, so loading the file twice
-- (or into a database that already holds real memories) adds nothing the second time.
-- Plain real[] embeddings: no pgvector needed.
--
-- Besides ordinary rows it holds the awkward ones real exports contain: CRLF line endings, emoji, CJK and
-- right-to-left text, lines that look like Markdown headings or like the daily log's own markers,
-- NULL / array / odd-tag metadata, NULL created_at, midnight in several time zones, rows with and
-- without an 8-dimensional embedding.

\set ON_ERROR_STOP on
SET client_encoding = 'UTF8';
SET client_min_messages = warning;

BEGIN;

CREATE TABLE IF NOT EXISTS archival_memory (
    id          bigserial PRIMARY KEY,
    content     text NOT NULL,
    metadata    jsonb,
    created_at  timestamptz DEFAULT now(),
    embedding   real[]
);

-- Two loaders at once must not both see an empty table.
LOCK TABLE archival_memory IN SHARE ROW EXCLUSIVE MODE;

-- One statement, so the emptiness check is made once, against the table as it was before this insert.
INSERT INTO archival_memory (content, metadata, created_at, embedding)
WITH
-- Hand-written memories: content, tags, source, importance, created_at, has an embedding.
hand (content, tags, source, importance, created_at, has_embedding) AS (VALUES
    -- preferences
    ('Prefers oat milk flat whites, no sugar; black filter coffee after 2pm only if he has a late call.', '{preference,food}'::text[], 'chat', 0.6, timestamptz '2023-07-03 08:12:44+00', true),
    ('Does not want meetings scheduled before 9:30 on Mondays. Deep work block 9:30-12:00 is sacred.', '{preference,work,calendar}', 'chat', 0.9, '2023-07-05 17:40:02+00', true),
    ('Likes his weekly review summary as bullet points, max 10 items, grouped by project.', '{preference,lifeos}', 'chat', 0.7, '2023-07-09 19:03:11+00', false),
    ('Favourite restaurant for anniversaries: Osteria Francescana is a dream, but the realistic pick is Trattoria Da Enzo on Rheinstraße.', '{preference,food,family}', 'chat', 0.5, '2023-07-21 21:30:00+00', true),
    ('Hates being reminded about the same thing more than twice a day. Snooze means tomorrow morning.', '{preference,reminders}', 'chat', 0.8, '2023-08-02 07:55:19+00', false),
    ('Prefers aisle seats on flights under 4 hours, window on long-haul so he can sleep.', '{preference,travel}', 'chat', 0.6, '2023-08-14 12:01:37+00', true),
    ('Uses dark mode everywhere; the dashboard should default to it.', '{preference,lifeos}', 'voice', 0.3, '2023-09-01 22:14:50+00', false),
    ('Wants news digests without crypto coverage unless BTC moves more than 8% in a day.', '{preference,trading,news}', 'chat', 0.5, '2023-09-18 06:45:00+00', true),
    ('Reads on the Kindle at night; book notes should be exported to the Obsidian vault under Reading/.', '{preference,reading}', 'chat', 0.4, '2023-10-07 23:02:18+00', false),
    ('Music for focus: Nils Frahm, Ólafur Arnalds, or brown noise. Never podcasts while coding.', '{preference,music,work}', 'voice', 0.4, '2023-11-11 10:20:05+00', true),
    ('Does not eat pork; Maya is vegetarian on weekdays. Plan family meals accordingly.', '{preference,food,family}', 'chat', 0.9, '2023-12-02 18:33:41+00', true),
    ('Prefers German for anything official (Finanzamt, Bürgeramt); English for everything else.', '{preference,language}', 'chat', 0.7, '2024-01-15 09:10:00+00', false),
    ('Wants calendar invites to always include a video link, even for in-person meetings, as a fallback.', '{preference,calendar}', 'email', 0.5, '2024-03-04 14:48:12+00', false),
    ('Favourite running route: along the Main from Eiserner Steg to Gerbermühle and back, about 9.5 km.', '{preference,health,running}', 'chat', 0.5, '2024-04-20 07:05:33+00', true),
    ('Prefers invoices as PDF named YYYY-MM-vendor.pdf, stored in Documents/Finance/Invoices.', '{preference,finance}', 'chat', 0.6, '2024-06-09 16:27:00+00', false),
    ('Likes the morning briefing at 06:50, read aloud, weather first, then calendar, then markets.', '{preference,lifeos,briefing}', 'voice', 0.8, '2024-09-02 06:52:10+00', true),
    ('Prefers paper notebooks (Leuchtturm A5 dotted) for brainstorming; scan them on Fridays.', '{preference,work}', 'chat', 0.3, '2025-01-08 20:15:00+00', false),
    -- people
    ('Maya''s birthday is 14 March. She likes ceramics, hiking and anything from the Aesop store.', '{people,family,birthday}', 'chat', 1.0, '2023-07-04 20:01:00+00', true),
    ('Lena (daughter) started first grade at the Holzhausenschule in August 2023. Teacher: Frau Becker.', '{people,family,school}', 'chat', 0.9, '2023-08-21 15:30:00+00', true),
    ('Tom (brother) lives in Hamburg, works at Airbus in Finkenwerder. Usually visits over Easter.', '{people,family}', 'chat', 0.6, '2023-08-30 19:12:45+00', false),
    ('Priya Raman is the tech lead on the payments team; good ally for the API gateway proposal.', '{people,work}', 'chat', 0.7, '2023-09-12 11:05:00+00', true),
    ('Jonas Weber (manager) prefers written updates over calls. Send the weekly status by Thursday noon.', '{people,work}', 'email', 0.8, '2023-09-13 08:40:00+00', true),
    ('Dr. Okafor is the dentist at Praxis am Zoo, phone 069 4400 1122. Recall appointment every 6 months.', '{people,health}', 'chat', 0.6, '2023-10-02 10:00:00+00', false),
    ('Mum (Ingrid) gets confused by WhatsApp groups; call her directly on Sundays around 11.', '{people,family}', 'voice', 0.8, '2023-10-29 11:15:00+00', true),
    ('Carlos from the running club is organising the Frankfurt half marathon carpool.', '{people,running}', 'chat', 0.4, '2024-02-11 09:44:21+00', false),
    ('Aiko Tanaka (Kyoto contact, friend of Priya) offered to show us the Nishiki market.', '{people,travel,japan}', 'email', 0.5, '2024-03-22 13:02:00+00', true),
    ('Ben Hartmann is the accountant (Steuerberater). Tax documents due to him by end of May every year.', '{people,finance,tax}', 'chat', 0.9, '2024-04-03 17:20:00+00', true),
    ('Neighbour Mrs. Kowalski waters the plants when we travel; bring her Polish chocolates from the market.', '{people,home}', 'chat', 0.4, '2024-07-18 18:00:00+00', false),
    ('Lena''s best friend is Mia Schulz; parents are Sandra and Peter. Playdates usually Wednesday afternoons.', '{people,family,school}', 'chat', 0.5, '2024-10-05 16:45:00+00', true),
    ('Yusuf from the Dubai office is the contact for the regional rollout; he prefers WhatsApp to email.', '{people,work}', 'chat', 0.6, '2025-02-17 09:30:00+00', false),
    -- projects
    ('LifeOS: goal is one assistant that owns calendar, notes, finances and memory. Postgres today, local-first later.', '{project,lifeos}', 'chat', 1.0, '2023-07-02 22:10:00+00', true),
    ('Decided to move LifeOS memory to a local SQLite + Markdown layout (Jarvis style) so it works offline.', '{project,lifeos,decision}', 'chat', 0.9, '2024-11-20 21:40:00+00', true),
    ('Garden shed project: foundation slab poured 12 Aug, roof felt ordered from Hornbach, door still missing.', '{project,home,garden}', 'chat', 0.5, '2023-08-12 17:55:00+00', false),
    ('API gateway proposal accepted by architecture board; rollout starts Q1 with the payments team.', '{project,work}', 'email', 0.8, '2023-11-28 15:12:00+00', true),
    ('Side project: rewriting the budget scraper in Rust. Blocked on the bank''s new 2FA flow.', '{project,rust,finance}', 'chat', 0.4, '2024-01-27 23:30:00+00', false),
    ('Photo archive cleanup: 2014-2018 done, duplicates removed with czkawka, 2019 next.', '{project,photos}', 'chat', 0.3, '2024-02-25 20:05:00+00', false),
    ('Home automation: Zigbee coordinator moved to the hallway; bedroom sensors stopped dropping out.', '{project,home}', 'chat', 0.3, '2024-05-12 19:22:00+00', true),
    ('Talk "Local-first assistants" accepted at the Frankfurt .NET meetup, slot 18 September.', '{project,talk,work}', 'email', 0.7, '2024-07-30 10:10:00+00', true),
    ('Kitchen renovation quote from Möbel Martin: 14,200 EUR incl. installation; second quote pending.', '{project,home,finance}', 'email', 0.6, '2024-10-21 12:00:00+00', false),
    ('LifeOS migration plan: export archival_memory, map to facts, write daily logs, verify row by row, then switch.', '{project,lifeos,migration}', 'chat', 1.0, '2025-03-02 20:50:00+00', true),
    -- trading
    ('Trading rule: never risk more than 1% of the account on a single swing trade.', '{trading,rules}', 'chat', 1.0, '2023-07-10 19:00:00+00', true),
    ('Trading rule: no new positions on Friday afternoons or the day before earnings.', '{trading,rules}', 'chat', 0.9, '2023-07-10 19:02:00+00', true),
    ('Strategy notes: 20/50 EMA crossover on daily chart works on large caps, whipsaws on small caps.', '{trading,strategy}', 'chat', 0.7, '2023-08-08 21:15:00+00', true),
    ('Closed SAP position at 132.40 (+6.8%). Exit because the trailing stop at 2x ATR was hit.', '{trading,journal}', 'chat', 0.5, '2023-09-26 16:40:00+00', false),
    ('Covered calls on MSFT: sell 30-45 DTE at delta 0.20-0.25; roll when the short call hits 50% profit.', '{trading,options,strategy}', 'chat', 0.8, '2023-11-06 20:30:00+00', true),
    ('Post-mortem: the NVDA loss came from averaging down. Rule added: never average down on a swing trade.', '{trading,journal,rules}', 'chat', 0.9, '2024-01-19 22:05:00+00', true),
    ('Keep 6 months of expenses in the Tagesgeld account; trading capital is separate and capped at 15% of savings.', '{trading,finance,rules}', 'chat', 1.0, '2024-03-01 18:00:00+00', true),
    ('Watchlist Q2: ASML, Rheinmetall, Novo Nordisk, Airbus. Wait for pullbacks to the 50 EMA.', '{trading,watchlist}', 'chat', 0.5, '2024-04-02 07:30:00+00', false),
    ('Quarterly review: win rate 54%, average win 2.1R, average loss 0.9R. Best setups were breakouts after bases.', '{trading,review}', 'chat', 0.7, '2024-07-01 20:00:00+00', true),
    ('Stopped trading options on earnings. IV crush wiped out the gains three times in a row.', '{trading,options,rules}', 'chat', 0.8, '2024-11-04 21:45:00+00', true),
    -- health
    ('Allergic to penicillin (rash in 2009). Mention it at every new doctor.', '{health,allergy}', 'chat', 1.0, '2023-07-06 09:00:00+00', true),
    ('Blood pressure 128/84 at the pharmacy; GP wants weekly readings for a month.', '{health}', 'chat', 0.7, '2023-09-05 18:20:00+00', false),
    ('Running goal 2024: Frankfurt half marathon under 1:50. Current 10k pace 5:20/km.', '{health,running,goal}', 'chat', 0.8, '2023-12-30 15:00:00+00', true),
    ('Physio says the knee pain is IT band; foam roll daily, no downhill runs for three weeks.', '{health,running}', 'chat', 0.7, '2024-02-06 19:40:00+00', true),
    ('Sleep is better with no screens after 22:30 and magnesium in the evening. Aim for 7.5 h.', '{health,sleep}', 'voice', 0.6, '2024-05-27 06:30:00+00', false),
    ('Finished the Frankfurt half in 1:48:12. New goal: full marathon in 2025.', '{health,running,goal}', 'chat', 0.9, '2024-10-27 14:10:00+00', true),
    ('Annual check-up booked with Dr. Lindqvist for 12 February, fasting blood test.', '{health,calendar}', 'email', 0.6, '2025-01-20 08:00:00+00', false),
    -- travel
    ('Passport expires 03/2026; Maya''s expires 11/2027; Lena needs a new Kinderreisepass before any trip abroad.', '{travel,documents,family}', 'chat', 1.0, '2023-07-15 11:00:00+00', true),
    ('Lisbon trip 2023: Alfama flat was great, avoid the tram 28 queue, Time Out market is overrated.', '{travel,lisbon}', 'chat', 0.4, '2023-10-14 20:30:00+00', false),
    ('Japan trip planned for April 2024: Tokyo 5 nights, Kyoto 4, Osaka 2. JR pass 7 days.', '{travel,japan}', 'chat', 0.8, '2023-12-10 21:00:00+00', true),
    ('Lufthansa Miles & More number is in 1Password under "LH"; status Frequent Traveller until 02/2025.', '{travel,accounts}', 'chat', 0.6, '2024-01-05 12:12:00+00', false),
    ('Japan recap: Kyoto was the highlight, Lena loved Nara deer park, next time skip Osaka and do Kanazawa.', '{travel,japan}', 'voice', 0.6, '2024-04-28 19:00:00+00', true),
    ('Summer 2024: two weeks in Sardinia, Agriturismo near Olbia, ferry from Livorno booked.', '{travel,family}', 'email', 0.7, '2024-05-04 10:30:00+00', true),
    ('Business trip to Dubai 10-13 March 2025; hotel near DIFC, visa on arrival for German passport.', '{travel,work}', 'email', 0.7, '2025-02-20 16:00:00+00', false),
    -- reminders
    ('Renew the car insurance (HUK) before 30 November; compare with Check24 first.', '{reminder,finance,car}', 'chat', 0.8, '2023-10-30 09:00:00+00', true),
    ('TÜV for the Golf is due in June 2024.', '{reminder,car}', 'chat', 0.7, '2023-11-15 18:00:00+00', false),
    ('Cancel the Disney+ trial before 3 February.', '{reminder,subscriptions}', 'voice', 0.5, '2024-01-04 21:10:00+00', false),
    ('Tax return 2023: send documents to Ben by 31 May; Riester certificate is still missing.', '{reminder,tax,finance}', 'chat', 0.9, '2024-04-15 19:30:00+00', true),
    ('Change the water filter every 3 months: next in October.', '{reminder,home}', 'chat', 0.3, '2024-07-02 08:00:00+00', false),
    ('Lena''s school photos order form due Friday.', '{reminder,school,family}', 'chat', 0.5, '2024-09-23 07:20:00+00', false),
    ('Book the winter tyre change at the garage for late October.', '{reminder,car}', 'chat', 0.4, '2024-10-01 12:00:00+00', true),
    ('Buy a gift for Maya''s birthday (14 March) — ceramics workshop voucher?', '{reminder,family,birthday}', 'chat', 0.9, '2025-02-28 20:00:00+00', true),
    ('Renew Lena''s Kinderreisepass before the Easter trip.', '{reminder,travel,documents}', 'chat', 0.8, '2025-03-10 09:15:00+00', false),
    ('Quarterly: rebalance the ETF portfolio back to 70/30 (FTSE All-World / Euro bonds).', '{reminder,finance}', 'chat', 0.6, '2025-04-01 18:00:00+00', true),
    ('Anniversary dinner on 9 June: reserve Da Enzo two weeks ahead.', '{reminder,family}', 'chat', 0.7, '2025-05-20 19:00:00+00', false)
),
-- Templates for volume: %1$s person, %2$s place, %3$s ticker, %4$s a number, %5$s a weekday, %6$s a colleague.
templates (n, tags, source, template) AS (VALUES
    (0,  '["people", "family"]',           'chat',  'Called %1$s; they asked about visiting %2$s in spring.'),
    (1,  '["reminder"]',                   'chat',  'Remind me on %5$s to send %1$s the photos from %2$s.'),
    (2,  '["trading", "journal"]',         'chat',  'Opened %3$s swing trade, %4$s0 shares, stop below the 50-day EMA.'),
    (3,  '["trading", "journal"]',         'chat',  'Closed %3$s for +%4$s.2%%; exit on the weekly trailing stop.'),
    (4,  '["trading", "watchlist"]',       'chat',  '%3$s is consolidating above the breakout level; alert set %4$s%% below.'),
    (5,  '["health", "running"]',          'voice', 'Ran %4$s km this morning at an easy pace, knee fine; next long run on %5$s.'),
    (6,  '["health", "sleep"]',            'voice', 'Slept %4$s hours on %5$s night; the tracker says deep sleep was low again.'),
    (7,  '["project", "lifeos"]',          'chat',  'LifeOS: %1$s suggested a weekly digest like the one from the %2$s trip; worth trying.'),
    (8,  '["project", "work"]',            'email', 'Sprint %4$s review went well; %6$s asked for the API gateway latency numbers.'),
    (9,  '["travel"]',                     'chat',  'Idea for a long weekend: %2$s, about %4$s hours by train.'),
    (10, '["preference", "food"]',         'chat',  'Enjoyed the dinner in %2$s with %1$s; remember the place for next time.'),
    (11, '["people", "work"]',             'email', '%6$s is out of office until %5$s; route urgent questions to the team channel.'),
    (12, '["finance"]',                    'chat',  'Paid the %2$s hotel invoice (%4$s40 EUR); receipt filed under Finance.'),
    (13, '["reminder", "home"]',           'chat',  'Water the plants on %5$s; %1$s has the spare key.'),
    (14, '["people", "birthday"]',         'chat',  '%1$s''s birthday dinner is planned in %2$s; budget about %4$s0 EUR for a gift.'),
    (15, '["trading", "rules"]',           'chat',  'Reminder to self: %3$s reports earnings next %5$s, no new position before that.'),
    (16, '["health"]',                     'chat',  'Blood pressure 12%4$s/8%4$s this morning, logged for the GP.'),
    (17, '["project", "home"]',            'chat',  'Home: %1$s recommended a handyman from %2$s for the kitchen shelves.'),
    (18, '["learning"]',                   'chat',  'Finished chapter %4$s of "Designing Data-Intensive Applications"; notes in Obsidian.'),
    (19, '["family", "school"]',           'chat',  'Lena has a school trip on %5$s; packed lunch and %4$s EUR, photos for %1$s.'),
    (20, '["travel", "documents"]',        'email', 'Booking confirmation for %2$s received; %1$s has a copy.'),
    (21, '["trading", "strategy"]',        'chat',  'Backtest: %3$s with RSI(2) mean reversion over %4$s years, profit factor 1.%4$s.'),
    (22, '["preference", "lifeos"]',       'chat',  'Prefers the %5$s summary to include open trades (%3$s) and the week''s runs.'),
    (23, '["people"]',                     'voice', 'Met %1$s at the café in %2$s; they are changing jobs in %4$s months.')
),
generated AS (
    SELECT
        -- Each blank is filled independently (a hash of g per blank), so the combinations rarely repeat.
        format(t.template,
               (ARRAY['Maya', 'Tom', 'Mum', 'Carlos', 'Aiko', 'Ben', 'Sandra', 'Peter', 'Mrs. Kowalski', 'Lena', 'Uncle Frank', 'Grandpa Karl'])[1 + abs(hashtext(g || 'person')) % 12],
               (ARRAY['Hamburg', 'Lisbon', 'Kyoto', 'Mainz', 'Heidelberg', 'Sardinia', 'Vienna', 'Copenhagen', 'Sachsenhausen', 'Dubai', 'Strasbourg'])[1 + abs(hashtext(g || 'place')) % 11],
               (ARRAY['ASML', 'SAP', 'MSFT', 'NVDA', 'RHM', 'NOVO-B', 'AIR', 'AAPL', 'ALV'])[1 + abs(hashtext(g || 'ticker')) % 9],
               2 + abs(hashtext(g || 'number')) % 8,
               (ARRAY['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'])[1 + abs(hashtext(g || 'day')) % 7],
               (ARRAY['Priya', 'Jonas', 'Yusuf', 'Elena from QA', 'Marek', 'Dana (CTO)', 'Hannah'])[1 + abs(hashtext(g || 'colleague')) % 7]) AS content,
        jsonb_build_object(
            'tags', t.tags::jsonb,
            'source', t.source,
            'importance', round((0.2 + ((g * 37) % 80) / 100.0)::numeric, 2)
        ) || CASE WHEN g % 9 = 0 THEN jsonb_build_object('session_id', 'sess-' || lpad(g::text, 4, '0')) ELSE '{}'::jsonb END
          || CASE WHEN g % 13 = 0 THEN jsonb_build_object('confidence', 0.8) ELSE '{}'::jsonb END AS metadata,
        -- Spread over two years, at varying times of day.
        timestamptz '2023-07-01 06:00:00+00' + g * interval '3 days 13 hours 17 minutes 23 seconds' AS created_at,
        CASE WHEN g % 3 <> 0 THEN
            ARRAY(SELECT round(sin(g * 12.9898 + k * 78.233)::numeric, 4)::real FROM generate_series(1, 8) AS k)
        END AS embedding
    FROM generate_series(1, 200) AS g
    JOIN templates t ON t.n = g % 24
),
handwritten AS (
    SELECT
        h.content,
        jsonb_build_object('tags', to_jsonb(h.tags), 'source', h.source, 'importance', h.importance)
          || CASE WHEN 'preference' = ANY (h.tags) THEN '{"type": "preference"}'::jsonb ELSE '{}'::jsonb END AS metadata,
        h.created_at,
        CASE WHEN h.has_embedding THEN
            ARRAY(SELECT round(cos((hashtext(h.content) % 10000) + k * 1.618)::numeric, 4)::real FROM generate_series(1, 8) AS k)
        END AS embedding
    FROM hand h
),
-- Rows real exports contain and naive migrations get wrong.
awkward (content, metadata, created_at, embedding) AS (VALUES
    -- Windows line endings from a note pasted on a Windows laptop.
    (E'Packing list for Kyoto:\r\n- passports (all three)\r\n- JR pass vouchers\r\n- plug adapter type A\r\n- Lena''s motion sickness pills',
     '{"tags": ["travel", "japan", "checklist"], "source": "email", "importance": 0.7}'::jsonb, timestamptz '2024-03-28 21:14:09+00', '{0.11,-0.42,0.07,0.93,-0.15,0.31,0.0,-0.66}'::real[]),
    (E'Meeting notes (API gateway)\r\n\r\nDecisions:\r\n1. Rate limits per tenant\r\n2. mTLS between services\r\n\r\nOpen: who owns the on-call rota?\r\n',
     '{"tags": ["work", "meeting"], "source": "import", "importance": 0.6}', '2023-10-16 15:45:00+00', NULL),
    -- Unicode: emoji (including a ZWJ sequence and a flag), CJK, RTL Arabic and Hebrew, mixed direction.
    (E'Lena''s birthday party theme: dinosaurs \U0001F996\U0001F382 — order the cake from Bäckerei Schmidt by Thursday \U0001F389 (family: \U0001F468\u200D\U0001F469\u200D\U0001F467, venue \U0001F1E9\U0001F1EA Palmengarten)',
     '{"tags": ["family", "birthday", "🎂"], "source": "chat", "importance": 0.9}', '2024-06-01 09:30:00+00', '{0.5,0.5,-0.5,-0.5,0.25,0.25,-0.25,-0.25}'),
    ('京都の旅館「柊家」を予約した。チェックインは15時、夕食は18時半。',
     '{"tags": ["travel", "japan", "日本"], "source": "email", "importance": 0.8}', '2024-02-02 03:00:00+00', NULL),
    ('妈妈喜欢喝铁观音，春节带两盒回去。Mum''s friend Li Wei recommended the shop in 法兰克福 Chinatown.',
     '{"tags": ["people", "gift"], "source": "chat", "importance": 0.4}', '2024-01-30 18:22:00+00', '{-0.9,0.1,0.2,0.3,0.4,0.5,0.6,0.7}'),
    ('تذكير: موعد طبيب الأسنان يوم الثلاثاء الساعة العاشرة صباحًا',
     '{"tags": ["reminder", "health", "عربي"], "source": "voice", "importance": 0.6}', '2024-08-12 07:00:00+00', NULL),
    ('להתקשר לדני בקשר לשכירות הדירה בתל אביב לפני סוף החודש',
     '{"tags": ["reminder", "people"], "source": "voice", "importance": 0.5}', '2024-08-19 16:40:00+00', '{0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08}'),
    (E'Meeting with Yusuf (يوسف) about the Dubai office lease — he prefers WhatsApp; budget \u200FAED 180,000\u200F per year.',
     '{"tags": ["work", "people"], "source": "chat", "importance": 0.6}', '2025-02-18 11:11:11+00', NULL),
    (E'Zero-width and odd spaces:\u200Bhere a ZWSP, here a NBSP (\u00A0), here a tab (\t) and a combining e\u0301 vs precomposed \u00E9.',
     '{"tags": ["test"], "source": "import", "importance": 0.1}', '2024-05-05 05:05:05.123456+00', NULL),
    -- Content that looks like Markdown structure or like the daily log's own lines.
    (E'## 2024-01-01\nNew year resolutions: run a half marathon, read 24 books, no trading on Fridays.',
     '{"tags": ["goal", "resolutions"], "source": "chat", "importance": 0.9}', '2024-01-01 10:00:00+00', '{0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3}'),
    ('## 2024-01-01', '{"tags": ["test"], "source": "import", "importance": 0.1}', '2024-01-02 08:00:00+00', NULL),
    (E'# Daily Log: 2023-12-24\n\n---\n\nChristmas Eve at Mum''s. Tom brought the raclette.\n\n---',
     '{"tags": ["family"], "source": "import", "importance": 0.5}', '2023-12-24 22:00:00+00', NULL),
    (E'Pasted from an old Jarvis note:\n<!-- fact:1 -->\n## 09:00:00 UTC\n\n**Source:** archival_memory | **Context:** chat | **Entities:** `Maya`\n\\<!-- fact:2 -->',
     '{"tags": ["lifeos", "test"], "source": "import", "importance": 0.2}', '2024-11-21 09:00:00+00', NULL),
    (E'- [ ] call the plumber\n- [x] pay rent\n> quoted advice: "buy the dip" — no.\n```\nSELECT * FROM trades;\n```',
     '{"tags": ["todo"], "source": "chat", "importance": 0.3}', '2024-09-09 09:09:09+00', NULL),
    ('   Leading and trailing whitespace is part of the memory.   ', '{"tags": ["test"], "source": "import", "importance": 0.1}', '2024-04-04 04:04:04+00', NULL),
    -- A memory saved twice (same text, different rows and times).
    ('Trading rule: never risk more than 1% of the account on a single swing trade.',
     '{"tags": ["trading", "rules"], "source": "voice", "importance": 1.0}', '2024-08-01 19:00:00+00', NULL),
    -- Metadata of every shape.
    ('Maya mentioned she would like to try pottery classes at the VHS.', NULL, '2024-02-14 20:00:00+00', NULL),
    ('Old export: metadata stored as a JSON array by the v0 importer.', '["legacy", "import", 3]', '2023-07-01 00:00:01+00', NULL),
    ('Metadata is a bare JSON string.', '"chat"', '2023-07-01 12:00:00+00', NULL),
    ('Metadata was double-encoded by the Python exporter.', to_jsonb('{"tags": ["legacy"], "source": "python", "importance": 0.2}'::text), '2023-07-02 12:00:00+00', NULL),
    ('Empty metadata object.', '{}', '2023-07-03 12:00:00+00', NULL),
    ('Tags with spaces, duplicates, case variants and non-strings.',
     '{"tags": [" trading ", "trading", "Trading", "", "  ", 42, 3.5, true, null, {"nested": "x"}, ["a"], "#health", "long term goal"], "source": "chat", "importance": 0.5}',
     '2024-03-03 13:03:03+00', '{1,0,0,0,0,0,0,0}'),
    ('Tags as a comma-separated string.', '{"tags": "travel, japan,  ,travel", "source": "chat", "importance": "high"}', '2024-03-04 13:03:03+00', NULL),
    ('Tags null, importance out of range, unknown keys.', '{"tags": null, "source": null, "importance": 7, "mood": "tired", "extra": {"deep": {"deeper": [1, 2, 3]}}}', '2024-03-05 13:03:03+00', NULL),
    ('Context and confidence given explicitly.', '{"tags": ["lifeos"], "context": "weekly review", "session_id": 4711, "confidence": 0.35, "importance": 0.5}', '2024-03-06 13:03:03+00', NULL),
    ('Confidence outside 0..1 must not be taken as is.', '{"tags": ["test"], "confidence": 1.7}', '2024-03-07 13:03:03+00', NULL),
    -- created_at missing: the migration uses its own time for these.
    ('Undated: Maya''s ring size is 54.', '{"tags": ["people", "family"], "source": "chat", "importance": 0.8}', NULL, '{0.2,0.1,0.0,-0.1,-0.2,-0.3,-0.4,-0.5}'),
    ('Undated: the spare car key is in the blue box in the hallway cupboard.', '{"tags": ["home"], "source": "voice", "importance": 0.6}', NULL, NULL),
    ('Undated, no metadata: wifi password for guests is on the fridge.', NULL, NULL, NULL),
    -- Midnight in several time zones: the UTC day (and so the daily log file) differs from the local one.
    ('New Year 2024 in Tokyo time: called Aiko at midnight JST.', '{"tags": ["people", "japan"], "source": "chat", "importance": 0.4}', '2024-01-01 00:00:00+09', NULL),
    ('Midnight in New York: Tom landed at JFK.', '{"tags": ["people", "travel"], "source": "chat", "importance": 0.4}', '2024-05-10 00:00:00-04', '{0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2}'),
    ('Midnight in Berlin (summer time): Lena finally asleep after the fireworks.', '{"tags": ["family"], "source": "voice", "importance": 0.3}', timestamptz '2024-07-14 00:00:00 Europe/Berlin', NULL),
    ('Midnight in Berlin (winter time): started the dry January.', '{"tags": ["health", "goal"], "source": "chat", "importance": 0.5}', timestamptz '2025-01-01 00:00:00 Europe/Berlin', NULL),
    ('Midnight UTC exactly: quarterly trading review due.', '{"tags": ["trading", "review"], "source": "chat", "importance": 0.6}', '2024-10-01 00:00:00+00', NULL),
    ('Midnight in Kolkata (+05:30): Priya''s wedding starts.', '{"tags": ["people", "work"], "source": "chat", "importance": 0.5}', '2024-12-05 00:00:00+05:30', NULL),
    ('Midnight in Kathmandu (+05:45): trekking permit confirmation arrived.', '{"tags": ["travel"], "source": "email", "importance": 0.4}', '2025-04-12 00:00:00+05:45', NULL),
    ('Midnight in Honolulu (-10): last day of the conference trip.', '{"tags": ["travel", "work"], "source": "chat", "importance": 0.4}', '2025-06-20 00:00:00-10', NULL),
    ('Just before midnight UTC on a leap day.', '{"tags": ["test"], "source": "import", "importance": 0.1}', '2024-02-29 23:59:59.999999+00', NULL),
    -- A long entry (a pasted email).
    ('Forwarded from the landlord: ' || repeat('The heating maintenance will take place between 8:00 and 16:00; please make sure the radiators are accessible. ', 40),
     '{"tags": ["home", "email"], "source": "email", "importance": 0.3}', '2024-11-11 08:15:00+00', NULL)
),
all_rows AS (
    SELECT content, metadata, created_at, embedding FROM handwritten
    UNION ALL
    SELECT content, metadata, created_at, embedding FROM generated
    UNION ALL
    SELECT content, metadata, created_at, embedding FROM awkward
)
SELECT content, metadata, created_at, embedding
FROM all_rows
WHERE NOT EXISTS (SELECT 1 FROM archival_memory)
-- Ids follow time, as they would in a live table; undated rows come last.
ORDER BY created_at NULLS LAST, content;

COMMIT;

SELECT count(*) AS archival_memory_rows,
       count(embedding) AS with_embedding,
       count(*) FILTER (WHERE created_at IS NULL) AS undated,
       min(created_at)::date AS first_day,
       max(created_at)::date AS last_day
FROM archival_memory;
