using System.Globalization;
using System.Text.RegularExpressions;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Testing;
using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests;

public class EndToEndTests
{
    private static int MarkerCount(Scenario s, long factId) =>
        s.LogFiles().SelectMany(File.ReadAllLines).Count(l => l == $"<!-- fact:{factId} -->");

    [Fact]
    public void Awkward_rows_migrate_exactly_and_read_back_from_the_logs()
    {
        using var s = new Scenario();
        var contents = new[]
        {
            "CRLF\r\nline\r\n", "## 00:00:00 UTC\n---\n<!-- fact:1 -->\n**Source:** archival_memory | fake",
            "emoji \U0001F600 and \u202Eright-to-left\u202C and \u0001control", new string('z', 200 * 1024),
            "  spaced  ",
        };
        var at = new DateTime(2024, 6, 30, 23, 59, 59, DateTimeKind.Utc).AddTicks(1234560);
        foreach (var c in contents) s.Insert(c, "{\"tags\":[\"x\",\"x\",\" y \"]}", at);
        var result = s.Migrate();
        Assert.True(result.Success);
        var facts = s.Rows("SELECT content, timestamp FROM facts ORDER BY id");
        Assert.Equal(contents, facts.Select(f => (string)f[0]!));
        Assert.All(facts, f => Assert.Equal("2024-06-30 23:59:59.123456", f[1]));
        // Each content written as stored, never escaped, under its time of day, exactly once.
        var log = File.ReadAllText(Path.Combine(s.LogDir, "2024-06-30.md"));
        foreach (var c in contents) Assert.Contains("## 23:59:59 UTC\n\n" + c + "\n\n**Source:** archival_memory", log);
        Assert.All(s.EntryCounts().Values, n => Assert.Equal(1, n));
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void Entries_land_in_their_utc_day_and_null_dates_in_today()
    {
        using var s = new Scenario();
        s.Insert("late evening in Chicago",
            createdAt: DateTimeOffset.Parse("2024-01-01T23:30:00-06:00", CultureInfo.InvariantCulture).UtcDateTime);
        s.Insert("just after midnight in Tokyo",
            createdAt: DateTimeOffset.Parse("2024-01-02T00:10:00+09:00", CultureInfo.InvariantCulture).UtcDateTime);
        s.Insert("epoch", createdAt: DateTime.UnixEpoch);
        s.Insert("future", createdAt: new DateTime(2099, 12, 31, 23, 59, 59, DateTimeKind.Utc));
        s.Insert("no date");
        var before = DateTime.UtcNow;
        Assert.True(s.Migrate().Success);
        var today = before.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var names = s.LogFiles().Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet();
        Assert.Equal(new[] { "1970-01-01", "2024-01-01", "2024-01-02", "2099-12-31", today }.ToHashSet(), names);
        Assert.Contains("just after midnight in Tokyo", File.ReadAllText(Path.Combine(s.LogDir, "2024-01-01.md")));
        Assert.Contains("late evening in Chicago", File.ReadAllText(Path.Combine(s.LogDir, "2024-01-02.md")));
        var noDate = (string)s.Rows("SELECT timestamp FROM facts WHERE content = 'no date'")[0][0]!;
        Assert.StartsWith(today, noDate);
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void Failing_rows_are_reported_alone_and_the_rest_migrate()
    {
        using var s = new Scenario();
        s.Generate(30);
        s.Sql("UPDATE archival_memory SET content = NULL WHERE id IN (7, 19)");
        s.Sql("UPDATE archival_memory SET embedding = ARRAY[1, NULL]::real[] WHERE id = 11");
        var errors = new List<MigrationError>();
        var result = s.Migrate(new MigrationOptions { BatchSize = 10, OnError = errors.Add });
        Assert.False(result.Success);
        Assert.Equal(27, result.MigratedCount);
        Assert.Equal(3, result.ErrorCount);
        Assert.Equal(new object[] { 7L, 11L, 19L }, result.Errors.Select(e => e.PostgresId).OrderBy(x => x));
        Assert.Contains("content is NULL", result.Errors.First(e => (long)e.PostgresId == 7).Reason);
        Assert.Contains("NULL element", result.Errors.First(e => (long)e.PostgresId == 11).Reason);
        Assert.Equal(3, errors.Count);
        var v = s.Verify();
        Assert.Equal(3, v.MissingCount);
        Assert.Equal(0, v.LogMissingCount);
        // Once the rows are fixed, a rerun takes exactly them.
        s.Sql("UPDATE archival_memory SET content = 'fixed' WHERE content IS NULL");
        s.Sql("UPDATE archival_memory SET embedding = NULL WHERE id = 11");
        var rerun = s.Migrate();
        Assert.Equal(3, rerun.MigratedCount);
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void A_row_the_database_refuses_fails_alone_inside_its_batch()
    {
        using var s = new Scenario();
        // 100 rows: the refused one sits inside a group of rows written by one multi-row statement.
        s.Generate(100);
        s.Migrate(new MigrationOptions { Ids = new[] { "1" } });
        // A trigger standing in for any row-level refusal (a CHECK, a constraint) from the memory database.
        using (var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TRIGGER refuse BEFORE INSERT ON facts WHEN new.content LIKE 'Entry 50 %' " +
                "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;";
            cmd.ExecuteNonQuery();
        }
        var result = s.Migrate(new MigrationOptions { BatchSize = 100 });
        Assert.Equal(98, result.MigratedCount);
        Assert.Equal(50L, Assert.Single(result.Errors).PostgresId);
        Assert.Contains("refused", result.Errors[0].Reason);
        var v = s.Verify();
        Assert.Equal(1, v.MissingCount);
        Assert.Equal(0, v.LogMissingCount + v.DuplicateCount + v.ChangedCount);
        // The entity cache must not keep ids from the rolled-back attempt.
        Assert.Equal(0, s.Scalar<long>(
            "SELECT count(*) FROM entity_mentions m LEFT JOIN entities e ON e.id = m.entity_id WHERE e.id IS NULL"));
    }

    private static List<(string, DateTime, long)> FileStates(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => (f, File.GetLastWriteTimeUtc(f), new FileInfo(f).Length)).ToList();

    [Fact]
    public void A_batch_larger_than_a_part_is_one_transaction_in_which_a_refused_row_fails_alone()
    {
        using var s = new Scenario();
        s.Generate(2500);
        s.Migrate(new MigrationOptions { Ids = new[] { "1" } });
        // Row 1500 is in the batch's second part of 1000 rows.
        s.WorkspaceSql("CREATE TRIGGER refuse BEFORE INSERT ON facts WHEN new.content LIKE 'Entry 1500 %' " +
            "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;");
        var progress = new List<MigrationProgress>();
        var result = s.Migrate(new MigrationOptions { BatchSize = 5000, Progress = new SyncProgress(progress.Add) });
        Assert.Equal(2498, result.MigratedCount);
        Assert.Equal(1500L, Assert.Single(result.Errors).PostgresId);
        // One batch, one transaction: one progress report for all of its parts.
        var report = Assert.Single(progress);
        Assert.Equal(1, report.BatchNumber);
        Assert.Equal(2498, report.BatchMigrated);
        Assert.Equal(1, report.BatchFailed);
        var v = s.Verify();
        Assert.Equal(1, v.MissingCount);
        Assert.Equal(0, v.LogMissingCount + v.DuplicateCount + v.ChangedCount + v.MentionMismatchCount);
        Assert.Equal(0, s.Scalar<long>(
            "SELECT count(*) FROM entity_mentions m LEFT JOIN entities e ON e.id = m.entity_id WHERE e.id IS NULL"));
    }

    [Fact]
    public void A_batch_that_fails_in_a_later_part_is_rolled_back_whole_and_the_next_run_writes_it()
    {
        using var s = new Scenario();
        s.Generate(2500);
        s.Migrate(new MigrationOptions { Ids = new[] { "1" } });
        // Not a row-level refusal: an error that stops the run, in the batch's third part.
        s.WorkspaceSql("CREATE TRIGGER fail BEFORE INSERT ON facts WHEN new.content LIKE 'Entry 2200 %' " +
            "BEGIN SELECT json('not json'); END;");
        var ex = Assert.Throws<MemoryMigrationException>(() => s.Migrate(new MigrationOptions { BatchSize = 5000 }));
        Assert.Equal(0, ex.PartialResult!.MigratedCount);
        // The parts written before the failure went with the batch's transaction: nothing of it is left.
        Assert.Equal(1, s.Scalar<long>("SELECT count(*) FROM facts"));
        Assert.Equal(1, s.Scalar<long>("SELECT count(*) FROM fact_embeddings"));
        Assert.Equal(s.Scalar<long>("SELECT count(*) FROM entity_mentions WHERE fact_id = 1"),
            s.Scalar<long>("SELECT count(*) FROM entity_mentions"));
        s.WorkspaceSql("DROP TRIGGER fail");
        var rerun = s.Migrate(new MigrationOptions { BatchSize = 5000 });
        Assert.Equal(2499, rerun.MigratedCount);
        Assert.True(s.Verify().IsComplete);
        Assert.All(s.EntryCounts().Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public void Refresh_updates_in_place_and_appends_the_changed_entry_where_its_day_lives()
    {
        using var s = new Scenario();
        s.Insert("original $SOL", "{\"context\":\"a\"}", new DateTime(2024, 1, 1, 12, 0, 0, DateTimeKind.Utc));
        s.Insert("untouched", null, new DateTime(2024, 1, 1, 13, 0, 0, DateTimeKind.Utc));
        Assert.True(s.Migrate().Success);
        var factId = s.Scalar<long>("SELECT fact_id FROM fact_embeddings WHERE postgres_id = 1");
        s.Sql("UPDATE archival_memory SET content = 'edited @bob', metadata = '{\"context\":\"b\"}', " +
            "created_at = '2024-02-02 08:00:00+00' WHERE id = 1");
        var changed = s.Verify();
        Assert.Equal(1, changed.ChangedCount);
        Assert.Equal(1L, Assert.Single(changed.ChangedIds));

        // A plain run applies the source's edit (the fact is as the module wrote it).
        var plain = s.Migrate();
        Assert.Equal(1, plain.UpdatedCount);
        Assert.Equal(1, plain.RepairedLogEntries);
        var forced = s.Migrate(new MigrationOptions { Force = true });
        Assert.Equal(2, forced.UpdatedCount);
        Assert.Equal(0, forced.MigratedCount);
        Assert.Equal(2, s.Scalar<long>("SELECT count(*) FROM facts"));
        Assert.Equal("edited @bob", s.Scalar<string>($"SELECT content FROM facts WHERE id = {factId}"));
        Assert.Equal("@bob", s.Scalar<string>(
            $"SELECT e.name FROM entity_mentions m JOIN entities e ON e.id = m.entity_id WHERE m.fact_id = {factId}"));
        Assert.Equal(1, s.Scalar<long>($"SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'edited'"));
        Assert.Equal(0, s.Scalar<long>($"SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'original'"));
        // Appends only: the old entry stays as text in its day, the fact's entry now is the new day's.
        Assert.Contains("original $SOL", File.ReadAllText(Path.Combine(s.LogDir, "2024-01-01.md")));
        Assert.Contains("untouched", File.ReadAllText(Path.Combine(s.LogDir, "2024-01-01.md")));
        Assert.Contains("edited @bob", File.ReadAllText(Path.Combine(s.LogDir, "2024-02-02.md")));
        Assert.Equal(1, s.EntryCount(factId));
        Assert.Equal(0, forced.RepairedLogEntries);
        Assert.True(s.Verify().IsComplete);
        // Refreshing what has not changed appends nothing.
        var again = s.Migrate(new MigrationOptions { Force = true });
        Assert.Equal(0, again.RepairedLogEntries);
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void Uuid_and_text_keys_are_linked_exactly()
    {
        using var u = new Scenario(idType: "uuid");
        var ids = Enumerable.Range(0, 60).Select(_ => Guid.NewGuid()).ToList();
        // Embeddings too: they are read grouped and matched back to their rows by key.
        for (var i = 0; i < ids.Count; i++) u.Insert("uuid row " + ids[i], id: ids[i], embedding: new[] { i, 0.5f });
        Assert.Equal(60, u.Migrate().MigratedCount);
        Assert.True(u.Verify().IsComplete);
        Assert.Equal(60, u.Scalar<long>("SELECT count(*) FROM fact_embeddings WHERE length(embedding) = 8"));
        Assert.Equal(0, u.Migrate().MigratedCount);
        Assert.Equal(ids.Select(i => i.ToString()).OrderBy(x => x, StringComparer.Ordinal),
            u.Rows("SELECT postgres_id FROM fact_embeddings").Select(r => (string)r[0]!)
                .OrderBy(x => x, StringComparer.Ordinal));

        using var t = new Scenario(idType: "text");
        var keys = new[] { "alpha", "007", "7", "1e3", " 5", "ünï", "b'quote", "a\"b" };
        foreach (var k in keys) t.Insert("text row " + k, id: k, embedding: new[] { k.Length, 0.25f });
        Assert.Equal(keys.Length, t.Migrate().MigratedCount);
        var v = t.Verify();
        Assert.True(v.IsComplete,
            $"missing {string.Join(",", v.MissingIds)} embedding {string.Join(",", v.EmbeddingMismatchIds)}");
        t.Sql("UPDATE archival_memory SET embedding = '{9, 9}' WHERE id = '1e3'");
        Assert.Equal("1e3", Assert.Single(t.Verify().EmbeddingMismatchIds));
        Assert.Equal(0, t.Migrate().MigratedCount);
        var status = t.Status();
        Assert.Equal(0, status.PendingCount);
        Assert.Equal(0, status.OrphanedCount);
    }

    [Fact]
    public void Rows_deleted_or_added_during_a_run_never_make_others_skipped()
    {
        using var s = new Scenario();
        s.Generate(3000);
        var deleted = false;
        var result = s.Migrate(new MigrationOptions
        {
            BatchSize = 500,
            Progress = new SyncProgress(p =>
            {
                if (deleted) return;
                deleted = true;
                // Far enough ahead of the first batch that the read-ahead has not fetched them yet.
                s.Sql("DELETE FROM archival_memory WHERE id BETWEEN 2400 AND 2700 OR id = 2999");
                s.Generate(50, start: 5000);
            }),
        });
        Assert.True(result.Success);
        var rerun = s.Migrate();
        var v = s.Verify();
        Assert.True(v.IsComplete || v.OrphanedCount == 0 && v.MissingCount == 0, "verification");
        Assert.Equal(3000 - 302 + 50, v.SourceCount);
        Assert.Equal(0, v.MissingCount);
        Assert.Equal(0, v.OrphanedCount);
        Assert.Equal(v.SourceCount, s.Scalar<long>("SELECT count(*) FROM facts"));
        Assert.Equal(50, rerun.MigratedCount);
    }

    [Fact]
    public void Given_ids_only_migrate_and_unknown_or_malformed_ids_are_errors()
    {
        using var s = new Scenario();
        s.Generate(20);
        var result = s.Migrate(new MigrationOptions { Ids = new[] { "3", "5", "5", "999", "abc" } });
        Assert.Equal(2, result.MigratedCount);
        Assert.Equal(2, result.ErrorCount);
        Assert.Contains(result.Errors, e => e.PostgresId.Equals(999L) && e.Reason.Contains("no row"));
        Assert.Contains(result.Errors, e => e.PostgresId.Equals("abc") && e.Reason.Contains("integer"));
        Assert.Equal(new object[] { 3L, 5L },
            s.Rows("SELECT postgres_id FROM fact_embeddings ORDER BY postgres_id").Select(r => r[0]!));
        var status = s.Status();
        Assert.Equal(18, status.PendingCount);
    }

    [Fact]
    public void Dry_run_plans_without_touching_the_disk()
    {
        using var s = new Scenario();
        s.Insert("a", createdAt: new DateTime(2024, 3, 3, 1, 0, 0, DateTimeKind.Utc));
        s.Insert("b", createdAt: new DateTime(2024, 3, 4, 1, 0, 0, DateTimeKind.Utc));
        var plan = s.Migrator().PlanAsync(new MigrationOptions()).ToBlockingEnumerable().ToList();
        Assert.Equal(new[] { "2024-03-03", "2024-03-04" }, plan.Select(p => p.Day));
        Assert.Equal(Path.Combine(s.LogDir, "2024-03-03.md"), plan[0].LogFile);
        Assert.False(Directory.Exists(s.Root));
        s.Migrate(new MigrationOptions { Ids = new[] { "1" } });
        var files = FileStates(s.Root);
        var second = s.Migrator().PlanAsync(new MigrationOptions()).ToBlockingEnumerable().ToList();
        Assert.Equal(2L, Assert.Single(second).PostgresId);
        Assert.Equal(files, FileStates(s.Root));
    }

    [Fact]
    public async Task Status_without_postgres_still_reports_the_memory_side()
    {
        using var s = new Scenario();
        s.Generate(5);
        s.Migrate();
        var away = new SourceOptions
        {
            ConnectionString = $"Host=127.0.0.1;Port=1;Username=u;Password=SeCrEt-123;Database=x",
            ConnectTimeoutSeconds = 2,
        };
        var status = await new ArchivalMigrator(away, s.Root).GetStatusAsync();
        Assert.False(status.PostgresAvailable);
        Assert.Equal(5, status.FactCount);
        Assert.Equal(5, status.MigratedCount);
        Assert.Null(status.PendingCount);
        Assert.NotNull(status.PostgresError);
        Assert.DoesNotContain("SeCrEt-123", status.PostgresError);
        Assert.DoesNotContain("Password", status.PostgresError, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("wrong-password")]
    [InlineData("bad-database")]
    [InlineData("unreachable")]
    public void Unavailable_sources_fail_with_their_id_and_no_secret(string kind)
    {
        using var s = new Scenario();
        var cluster = PostgresCluster.Shared;
        var cs = kind switch
        {
            "wrong-password" => $"postgresql://postgres:Wr0ng%40Secret@127.0.0.1:{cluster.Port}/{s.Database}",
            "bad-database" =>
                $"postgres://postgres:{Uri.EscapeDataString(cluster.Password)}@127.0.0.1:{cluster.Port}/no_such_db",
            _ => "postgres://postgres:Wr0ng%40Secret@127.0.0.1:1/x",
        };
        var ex = Assert.Throws<MemoryMigrationException>(() =>
            new ArchivalMigrator(new SourceOptions { ConnectionString = cs }, s.Root)
                .MigrateAsync(new MigrationOptions()).GetAwaiter().GetResult());
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.ErrorId);
        Assert.Equal(FailureKind.ConnectionError, ex.Kind);
        foreach (var secret in new[] { "Wr0ng@Secret", "Wr0ng%40Secret", cluster.Password, cs })
            Assert.DoesNotContain(secret, ex.ToString());
        Assert.False(Directory.Exists(s.Root));
    }

    [Fact]
    public async Task Explicit_credentials_override_the_connection_string()
    {
        using var s = new Scenario();
        s.Generate(3);
        var cs = $"Host=127.0.0.1;Port={s.Cluster.Port};Database={s.Database};Username=nobody;Password=wrong";
        var options = new SourceOptions { ConnectionString = cs, UserName = "postgres", Password = s.Cluster.Password };
        var result = await new ArchivalMigrator(options, s.Root).MigrateAsync(new MigrationOptions());
        Assert.Equal(3, result.MigratedCount);
        var uri = $"postgresql://postgres:{Uri.EscapeDataString(s.Cluster.Password)}@127.0.0.1:{s.Cluster.Port}/" +
            $"{s.Database}?sslmode=disable&application_name=test";
        var status = await new ArchivalMigrator(new SourceOptions { ConnectionString = uri }, s.Root).GetStatusAsync();
        Assert.Equal(3, status.MigratedCount);
    }

    [Fact]
    public void Missing_columns_and_tables_are_named()
    {
        using var s = new Scenario(idType: "none");
        s.Sql("CREATE TABLE no_content (id bigint primary key, body text)");
        var ex = Assert.Throws<MemoryMigrationException>(() => s.Migrate(table: "no_content"));
        Assert.Equal(ErrorIds.SourceColumnMissing, ex.ErrorId);
        Assert.Contains("no_content", ex.Message);
        Assert.Contains("'content'", ex.Message);
        var missing = Assert.Throws<MemoryMigrationException>(() => s.Migrate(table: "nope"));
        Assert.Equal(ErrorIds.SourceTableNotFound, missing.ErrorId);
        var injection = Assert.Throws<MemoryMigrationException>(
            () => s.Migrate(table: "archival_memory; DROP TABLE no_content; --"));
        Assert.Equal(ErrorIds.InvalidSourceTable, injection.ErrorId);
        Assert.Equal("0", s.Cluster.Psql(s.Database, "SELECT count(*) FROM no_content").Trim());
    }

    [Fact]
    public void Schema_qualified_quoted_tables_and_minimal_columns_work()
    {
        using var s = new Scenario(idType: "none");
        s.Sql("CREATE SCHEMA \"Mem Store\"; " +
            "CREATE TABLE \"Mem Store\".\"Odd \"\"Name\"\"\" (id int primary key, content varchar(500))");
        s.Sql("INSERT INTO \"Mem Store\".\"Odd \"\"Name\"\"\" VALUES (1, 'minimal row'), (2, 'another')");
        var result = s.Migrate(table: "\"Mem Store\".\"Odd \"\"Name\"\"\"");
        Assert.Equal(2, result.MigratedCount);
        Assert.Equal("migrated from archival_memory", s.Scalar<string>("SELECT context FROM facts LIMIT 1"));
        Assert.Equal(0, s.Scalar<long>("SELECT count(*) FROM fact_embeddings WHERE embedding IS NOT NULL"));
    }

    [Fact]
    public void Embeddings_of_every_supported_type_are_copied_as_little_endian_float32()
    {
        using var s = new Scenario(idType: "none");
        s.Sql("CREATE DOMAIN vector AS real[]");
        var tables = new[]
        {
            ("e_real", "real[]", 1), ("e_double", "double precision[]", 11), ("e_vector", "vector", 21),
        };
        foreach (var (name, type, first) in tables)
        {
            s.Sql($"CREATE TABLE {name} (id bigint primary key, content text, embedding {type})");
            s.Sql($"INSERT INTO {name} VALUES ({first}, 'with', ARRAY[0.5, -1, 3.25]), " +
                $"({first + 1}, 'without', NULL), ({first + 2}, 'empty', '{{}}')");
            Assert.True(s.Migrate(table: name).Success);
        }
        var blobs = s.Rows("SELECT embedding, embedding_synced_at FROM fact_embeddings WHERE embedding IS NOT NULL");
        Assert.Equal(3, blobs.Count);
        Assert.All(blobs, b =>
        {
            var bytes = (byte[])b[0]!;
            Assert.Equal(new[] { 0.5f, -1f, 3.25f },
                Enumerable.Range(0, 3).Select(i => BitConverter.ToSingle(bytes, i * 4)));
            Assert.NotNull(b[1]);
        });
    }

    [Fact]
    public async Task Two_concurrent_migrations_never_double_anything()
    {
        using var s = new Scenario();
        s.Generate(4000);
        var runs = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            try
            {
                var options = new MigrationOptions { BatchSize = 250, LockTimeout = TimeSpan.FromMinutes(2) };
                return (Result: s.Migrate(options), Error: (Exception?)null);
            }
            catch (Exception ex)
            {
                return (Result: (MigrationResult?)null, Error: ex);
            }
        })).ToArray();
        await Task.WhenAll(runs);
        Assert.All(runs, r => Assert.Null(r.Result.Error));
        Assert.Equal(4000, runs.Sum(r => r.Result.Result!.MigratedCount));
        Assert.Equal(4000, s.Scalar<long>("SELECT count(*) FROM facts"));
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void A_second_migration_that_cannot_wait_fails_clearly()
    {
        using var s = new Scenario();
        s.Generate(10);
        s.Migrate();
        using var held = new FileStream(Path.Combine(s.Root, ".lifeos-migration.lock"), FileMode.Open,
            FileAccess.ReadWrite, FileShare.None);
        var ex = Assert.Throws<MemoryMigrationException>(
            () => s.Migrate(new MigrationOptions { LockTimeout = TimeSpan.FromMilliseconds(300) }));
        Assert.Equal(ErrorIds.WorkspaceBusy, ex.ErrorId);
        Assert.Contains("Another migration", ex.Message);
    }

    [Fact]
    public async Task Cancellation_keeps_committed_batches_and_the_next_run_completes()
    {
        using var s = new Scenario();
        s.Generate(2000);
        using var cts = new CancellationTokenSource();
        var result = await s.Migrator().MigrateAsync(new MigrationOptions
        {
            BatchSize = 200,
            Progress = new SyncProgress(p => { if (p.BatchNumber == 3) cts.Cancel(); }),
        }, cts.Token);
        Assert.True(result.Cancelled);
        Assert.False(result.Success);
        Assert.Equal(600, result.MigratedCount);
        Assert.Equal(600, s.Scalar<long>("SELECT count(*) FROM facts"));
        Assert.Equal(0, s.Scalar<long>("SELECT count(*) FROM lifeos_log_pending"));
        Assert.Equal(1400, s.Migrate().MigratedCount);
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void Logs_deleted_edited_or_left_pending_are_repaired_by_the_next_run_appending_only()
    {
        using var s = new Scenario();
        s.Generate(200);
        s.Migrate();
        var files = s.LogFiles();
        File.Delete(files[0]);
        var second = File.ReadAllText(files[1]);
        var first = second.IndexOf("<!-- fact:", StringComparison.Ordinal);
        var cut = second.IndexOf("<!-- fact:", first + 1, StringComparison.Ordinal);
        var tornText = second[..(cut + 30)];
        File.WriteAllText(files[1], tornText); // torn inside an entry
        // Every entry copied once more by hand: copies are text, not entries of the module's.
        var third = File.ReadAllText(files[2]);
        var copied = third[LogReader.Header(Path.GetFileNameWithoutExtension(files[2])).Length..];
        File.AppendAllText(files[2], copied);
        var broken = s.Verify();
        Assert.True(broken.LogMissingCount > 0);
        Assert.Equal(0, broken.LogDuplicateCount);
        Assert.False(broken.IsComplete);
        // An entry whose bytes were changed in place no longer counts as the fact's entry.
        var pendingId = s.Scalar<long>("SELECT max(id) FROM facts");
        var day = s.Scalar<string>($"SELECT substr(timestamp, 1, 10) FROM facts WHERE id = {pendingId}");
        var dayFile = Path.Combine(s.LogDir, day + ".md");
        File.WriteAllText(dayFile, File.ReadAllText(dayFile).Replace($"<!-- fact:{pendingId} -->", "<!-- fact:0 -->"));
        var before = s.LogFiles().Where(File.Exists).ToDictionary(f => f, File.ReadAllText);

        var repair = s.Migrate();
        Assert.Equal(0, repair.MigratedCount);
        Assert.True(repair.RepairedLogEntries > 0);
        var v = s.Verify();
        Assert.True(v.IsComplete, $"log missing {v.LogMissingCount} dup {v.LogDuplicateCount}");
        Assert.Equal(1, MarkerCount(s, pendingId));
        // Appends only: every file that existed still starts with exactly what it held.
        foreach (var (file, text) in before) Assert.StartsWith(text, File.ReadAllText(file));
        Assert.StartsWith(tornText, File.ReadAllText(files[1]));
        Assert.Contains(copied + copied, File.ReadAllText(files[2]));
        Assert.Equal(0, s.Migrate().RepairedLogEntries);
    }

    [Fact]
    public void An_existing_jarvis_database_is_used_without_breaking_it()
    {
        using var s = new Scenario();
        // More rows than one multi-row insert statement takes, so both statement shapes write into this schema.
        s.Generate(40);
        Directory.CreateDirectory(s.Root);
        // A version-1-upgraded database written by another program, with facts of its own.
        using (var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = LifeOS.Memory.MemoryStore.MemorySchema.JarvisTables
                .Replace("embedding BLOB\n", "x INTEGER\n")
                .Replace("position INTEGER\n",
                    "position INTEGER,\n    entity_name TEXT NOT NULL,\n    entity_type TEXT NOT NULL\n") +
                "CREATE VIRTUAL TABLE facts_fts USING fts5(content, context, content='facts', content_rowid='id', " +
                "tokenize='porter unicode61');\n" +
                "CREATE TRIGGER fts_insert AFTER INSERT ON facts BEGIN " +
                "INSERT INTO facts_fts(rowid, content, context) VALUES (new.id, new.content, new.context); END;\n" +
                "CREATE TRIGGER fts_delete AFTER DELETE ON facts BEGIN " +
                "INSERT INTO facts_fts(facts_fts, rowid, content, context) " +
                "VALUES ('delete', old.id, old.content, old.context); END;\n" + """
INSERT INTO schema_info(version) VALUES (1), (4);
INSERT INTO facts(content, source) VALUES ('telegram fact', 'telegram');
INSERT INTO fact_embeddings(fact_id, postgres_id) VALUES (1, NULL);
""";
            cmd.ExecuteNonQuery();
        }
        var result = s.Migrate();
        Assert.Equal(40, result.MigratedCount);
        Assert.Equal(41, s.Scalar<long>("SELECT count(*) FROM facts"));
        Assert.Equal("telegram fact", s.Scalar<string>("SELECT content FROM facts WHERE id = 1"));
        Assert.Equal(41, s.Scalar<long>("SELECT count(*) FROM facts_fts"));
        Assert.Equal(2,
            s.Scalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'facts'"));
        Assert.Equal(2, s.Scalar<long>("SELECT count(*) FROM schema_info"));
        Assert.Equal(s.Scalar<long>("SELECT count(*) FROM entity_mentions"), s.Scalar<long>(
            "SELECT count(*) FROM entity_mentions m JOIN entities e ON e.id = m.entity_id " +
            "WHERE m.entity_name = e.name AND m.entity_type = e.type"));
        Assert.True(s.Scalar<long>("SELECT count(*) FROM entity_mentions") > 40);
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void A_new_database_has_the_jarvis_schema_and_settings()
    {
        using var s = new Scenario();
        s.Generate(3);
        s.Migrate();
        Assert.Equal("wal", s.Scalar<string>("PRAGMA journal_mode"));
        Assert.Equal(4, s.Scalar<long>("SELECT version FROM schema_info"));
        var tables = new[]
        {
            "facts", "entities", "entity_mentions", "fact_embeddings", "facts_fts", "preferences", "sessions",
            "user_identities", "subagents",
        };
        foreach (var table in tables)
            Assert.Equal(1, s.Scalar<long>($"SELECT count(*) FROM sqlite_master WHERE name = '{table}'"));
        Assert.Contains("'assistant', NULL", s.Scalar<string>("SELECT sql FROM sqlite_master WHERE name = 'facts'"));
        Assert.Contains("porter unicode61", s.Scalar<string>("SELECT sql FROM sqlite_master WHERE name = 'facts_fts'"));
        // The module's links are unique per source id among themselves only (see the assistant's REPLACE).
        Assert.Equal(0,
            s.Scalar<long>("SELECT count(*) FROM sqlite_master WHERE name = 'ux_fact_embeddings_postgres_id'"));
        Assert.Contains("WHERE lifeos_link = 1",
            s.Scalar<string>("SELECT sql FROM sqlite_master WHERE name = 'lifeos_own_links'"));
        Assert.Equal(3, s.Scalar<long>("SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'entry'"));
        using var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False");
        c.Open();
        using var check = c.CreateCommand();
        check.CommandText = "INSERT INTO facts_fts(facts_fts) VALUES('integrity-check'); PRAGMA integrity_check;";
        Assert.Equal("ok", check.ExecuteScalar());
        if (!OperatingSystem.IsWindows())
        {
            const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            Assert.Equal(ownerOnly | UnixFileMode.UserExecute, File.GetUnixFileMode(s.Root));
            Assert.Equal(ownerOnly, File.GetUnixFileMode(s.DbPath));
            foreach (var f in s.LogFiles()) Assert.Equal(ownerOnly, File.GetUnixFileMode(f));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_full_text_index_matches_the_facts_whether_indexed_in_bulk_or_by_a_foreign_trigger(
        bool foreignTrigger)
    {
        using var s = new Scenario();
        s.Generate(10);
        s.Migrate(); // creates the database
        using (var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            // Another program's extra insert trigger: bulk indexing must step aside and the triggers do the work.
            cmd.CommandText = foreignTrigger
                ? "CREATE TABLE audit (fact_id INTEGER); " +
                  "CREATE TRIGGER audit_ai AFTER INSERT ON facts BEGIN INSERT INTO audit VALUES (new.id); END;"
                : "SELECT 1";
            cmd.ExecuteNonQuery();
        }
        s.Generate(2500, start: 10);
        var result = s.Migrate(new MigrationOptions { BatchSize = 700 });
        Assert.Equal(2500, result.MigratedCount);
        Assert.Equal(2510, s.Scalar<long>("SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'entry'"));
        Assert.Equal(s.Scalar<long>("SELECT count(*) FROM facts WHERE content LIKE '%tag3%'"),
            s.Scalar<long>("SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'tag3'"));
        if (foreignTrigger) Assert.Equal(2500, s.Scalar<long>("SELECT count(*) FROM audit"));
        using (var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            // The triggers are still in force for every other writer.
            cmd.CommandText = "INSERT INTO facts (content, source) VALUES ('written by jarvis zebra', 'user'); " +
                "SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'zebra';";
            Assert.Equal(1L, cmd.ExecuteScalar());
            cmd.CommandText = "INSERT INTO facts_fts(facts_fts) VALUES('integrity-check'); PRAGMA integrity_check;";
            Assert.Equal("ok", cmd.ExecuteScalar());
        }
    }

    [Fact]
    public void Bad_arguments_are_rejected_before_anything_is_touched()
    {
        using var s = new Scenario();
        foreach (var size in new[] { 0, -1, 10_000_000 })
        {
            var bad = Assert.Throws<MemoryMigrationException>(
                () => s.Migrate(new MigrationOptions { BatchSize = size }));
            Assert.Equal(FailureKind.InvalidArgument, bad.Kind);
        }
        var file = Path.GetTempFileName();
        var ex = Assert.Throws<MemoryMigrationException>(() =>
            new ArchivalMigrator(new SourceOptions { ConnectionString = s.ConnectionString }, file)
                .MigrateAsync(new MigrationOptions()).GetAwaiter().GetResult());
        Assert.Equal(ErrorIds.WorkspaceInvalid, ex.ErrorId);
        File.Delete(file);
        var uri = Assert.Throws<MemoryMigrationException>(() =>
            new ArchivalMigrator(new SourceOptions { ConnectionString = "postgres://us er:p@ss w0rd@[bad/db" }, s.Root)
                .MigrateAsync(new MigrationOptions()).GetAwaiter().GetResult());
        Assert.Equal(ErrorIds.InvalidConnectionString, uri.ErrorId);
        Assert.DoesNotContain("ss w0rd", uri.Message);
        Assert.False(Directory.Exists(s.Root));
    }
}
