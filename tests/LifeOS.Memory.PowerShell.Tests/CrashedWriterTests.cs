using System.Diagnostics;
using System.Security.Cryptography;

namespace LifeOS.Memory.ModuleTests;

/// <summary>
/// The assistant killed (SIGKILL) with its WAL not checkpointed: after a commit, or in the middle of a transaction
/// whose pages already spilled into the WAL. Every reading cmdlet leaves jarvis.db, its -wal and its -shm
/// byte for byte as the crash left them, and sees exactly the committed transactions; the next run then works.
/// </summary>
[Collection("PowerShell")]
public sealed class CrashedWriterTests
{
    // The assistant's connection (Python's sqlite3, its own defaults): a committed transaction that deletes the
    // module's fact of source id 7 with its link and adds a fact of its own; with "mid", then an open transaction
    // doing the same to id 8 and adding enough rows that its pages spill into the WAL before the kill.
    private const string Writer = """
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA busy_timeout = 5000")
        def forget(source_id, word):
            c.execute("BEGIN IMMEDIATE")
            c.execute("DELETE FROM facts WHERE id = "
                      "(SELECT fact_id FROM fact_embeddings WHERE postgres_id = ?)", (source_id,))
            c.execute("DELETE FROM fact_embeddings WHERE postgres_id = ?", (source_id,))
            c.execute("INSERT INTO facts (content, source) VALUES (?, 'telegram')", (word + " note",))
        forget(7, "zebracommitted")
        c.execute("COMMIT")
        if sys.argv[2] == "mid":
            c.execute("PRAGMA cache_size = 10")
            forget(8, "zebrauncommitted")
            c.execute("INSERT INTO facts (content, source) SELECT hex(randomblob(1000)), 'telegram' "
                      "FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
                      "SELECT i FROM n)")
        print("ready", flush=True)
        time.sleep(600)
        """;

    private static readonly string[] Files = { "jarvis.db", "jarvis.db-wal", "jarvis.db-shm" };

    [Theory]
    [InlineData("committed")]
    [InlineData("mid")]
    public void Reading_cmdlets_leave_a_crashed_writers_wal_as_it_is_and_see_its_commits(string crash)
    {
        using var src = new TestSource(120);
        using var ps = PowerShellSession.For(src);
        ps.Run($"Invoke-ArchivalMigration {PowerShellSession.Common}").ThrowIfFailed();
        KillWriterMidWay(Path.Combine(src.Root, "jarvis.db"), crash);
        var before = Hashes(src.Root);
        Assert.True(new FileInfo(Path.Combine(src.Root, "jarvis.db-wal")).Length > 0, "the writer left no WAL");

        void Read(string command, Action<Outcome> check)
        {
            var outcome = ps.Run(command);
            Assert.True(outcome.Terminating == null && outcome.Errors.Count == 0, $"{command}: {outcome.AllText()}");
            check(outcome);
            var after = Hashes(src.Root);
            foreach (var file in Files)
                Assert.True(before[file] == after[file], $"{command} changed {file} ({crash})");
        }

        Read($"Get-MigrationStatus {PowerShellSession.Common}", o =>
        {
            Assert.Equal(1L, (long?)o.Last.PendingCount);
            Assert.Equal(119L, (long)o.Last.MigratedCount);
        });
        Read($"Get-ArchivalMemory {PowerShellSession.Common} -Id 7, 8", o =>
        {
            Assert.Equal(new[] { false, true }, o.Output.Select(e => (bool)((dynamic)e).IsMigrated).ToArray());
        });
        Read($"Invoke-ArchivalMigration {PowerShellSession.Common} -WhatIf", o =>
        {
            Assert.Contains(o.HostLines, l => l.Contains("(1 new, 0 refreshed)", StringComparison.Ordinal));
        });
        Read($"Test-Migration {PowerShellSession.Common}", o =>
        {
            Assert.Equal(1L, (long)o.Last.MissingCount);
            Assert.Equal(0L, (long)o.Last.ChangedCount);
        });
        Read($"Search-Memory -Query zebracommitted -MemoryPath $ws", o => Assert.Single(o.Output));
        Read($"Search-Memory -Query zebrauncommitted -MemoryPath $ws", o => Assert.Empty(o.Output));

        // The next run (in the same process as Search-Memory's open session) takes the row back.
        var run = ps.Run($"Invoke-ArchivalMigration {PowerShellSession.Common}");
        Assert.True(run.Terminating == null && run.Errors.Count == 0, run.AllText());
        Assert.Equal(1L, (long)run.Last.MigratedCount);
    }

    /// <summary>Runs the writer until it says it is ready, then kills it: its WAL and -shm stay as it left them.
    /// </summary>
    private static void KillWriterMidWay(string database, string crash)
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "-c", Writer, database, crash }) start.ArgumentList.Add(a);
        Process writer;
        try
        {
            writer = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("python3 is needed (apt-get install -y python3): " + ex.Message, ex);
        }
        using (writer)
        {
            var line = writer.StandardOutput.ReadLine();
            if (line != "ready")
            {
                writer.Kill();
                Assert.Fail($"the writer failed: {writer.StandardError.ReadToEnd()}");
            }
            writer.Kill(); // SIGKILL: no close, no checkpoint
            writer.WaitForExit();
        }
    }

    private static Dictionary<string, string> Hashes(string root) => Files.ToDictionary(f => f, f =>
    {
        var path = Path.Combine(root, f);
        return File.Exists(path) ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : "absent";
    });
}
