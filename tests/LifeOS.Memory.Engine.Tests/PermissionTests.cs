using System.Globalization;
using LifeOS.Memory.Testing;
using Xunit;
using static System.IO.UnixFileMode;

namespace LifeOS.Memory.Tests;

/// <summary>Owner-only workspaces on Unix, whatever the umask; modes the owner chose are kept.</summary>
public class PermissionTests
{
    private const UnixFileMode Folder = UserRead | UserWrite | UserExecute;
    private const UnixFileMode Private = UserRead | UserWrite;

    private static UnixFileMode Mode(string path) => File.GetUnixFileMode(path);

    [Fact]
    public void Everything_created_is_owner_only_even_under_a_permissive_umask()
    {
        Assert.False(OperatingSystem.IsWindows(), "Unix permissions are a Unix test");
        using var s = new Scenario();
        s.GenerateVaried(1200);
        // The child runs with umask 000: every mode must come from the engine, not from the umask.
        using (var child = ChildMigration.Start(s.ConnectionString, s.Table, s.Root, 500, shellPrefix: "umask 000"))
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(1)) == 0, child.Output);
        Assert.Equal(Folder, Mode(s.Root));
        Assert.Equal(Folder, Mode(s.LogDir));
        Assert.Equal(Private, Mode(s.DbPath));
        Assert.Equal(Private, Mode(Path.Combine(s.Root, ".lifeos-migration.lock")));
        Assert.All(s.LogFiles(), f => Assert.Equal(Private, Mode(f)));

        // While a run has the database open, its -wal and -shm files are owner-only too.
        s.Sql($"DELETE FROM {s.Table} WHERE id > 1000");
        s.GenerateVaried(200, start: 5000);
        var seen = new List<(string, UnixFileMode)>();
        s.Migrate(new MigrationOptions
        {
            BatchSize = 50,
            Progress = new SyncProgress(_ =>
            {
                foreach (var f in new[] { s.DbPath + "-wal", s.DbPath + "-shm" })
                    if (File.Exists(f)) seen.Add((Path.GetFileName(f), Mode(f)));
            }),
        });
        Assert.Contains(seen, x => x.Item1 == "jarvis.db-wal");
        Assert.All(seen, x => Assert.Equal(Private, x.Item2));
    }

    [Fact]
    public void Modes_the_owner_set_are_never_changed_by_appends_repairs_or_new_runs()
    {
        Assert.False(OperatingSystem.IsWindows(), "Unix permissions are a Unix test");
        using var s = new Scenario();
        s.GenerateVaried(600);
        s.Migrate(new MigrationOptions { Ids = Scenario.Ids(1, 300) });
        var files = s.LogFiles();
        // Looser than ours, chosen by the owner (a group that may read the memory): kept, never tightened behind
        // their back nor loosened further.
        File.SetUnixFileMode(s.Root, Folder | GroupRead | GroupExecute);
        File.SetUnixFileMode(s.LogDir, Folder | GroupRead | GroupExecute | OtherRead | OtherExecute);
        File.SetUnixFileMode(s.DbPath, Private | GroupRead);
        var appended = files[^1]; // the last day gets the next run's first entries appended
        var repaired = files[0];  // the first day gets the cut-out entry appended by the repair below
        File.SetUnixFileMode(appended, Private | GroupRead | OtherRead);
        // Stricter than ours: read-only for everybody (root can still write it, and must keep it read-only).
        var strict = PostgresCluster.IsRoot ? files[1] : null;
        if (strict != null) File.Delete(strict);
        File.SetUnixFileMode(repaired, Private | GroupRead);
        var text = File.ReadAllText(repaired);
        var cut = text.IndexOf("<!-- fact:2 -->\n", StringComparison.Ordinal);
        var next = text.IndexOf("<!-- fact:3 -->\n", StringComparison.Ordinal);
        File.WriteAllText(repaired, text[..cut] + text[next..]); // an entry cut out
        File.SetUnixFileMode(repaired, Private | GroupRead);
        var expected = new Dictionary<string, UnixFileMode>
        {
            [s.Root] = Mode(s.Root), [s.LogDir] = Mode(s.LogDir), [s.DbPath] = Mode(s.DbPath),
            [appended] = Mode(appended), [repaired] = Mode(repaired),
        };

        var result = s.Migrate();
        Assert.Equal(300, result.MigratedCount);
        Assert.True(result.RepairedLogEntries > 0);
        if (strict != null)
        {
            // Recreated by the repair as ours; then made read-only by its owner, with a line of theirs that
            // looks like a torn marker: text of theirs, nothing to repair, and the file is left as they set it.
            Assert.Equal(Private, Mode(strict));
            File.SetUnixFileMode(strict, UserRead);
            File.WriteAllText(strict, File.ReadAllText(strict) + "<!-- fact:12");
            File.SetUnixFileMode(strict, UserRead);
            expected[strict] = UserRead;
            Assert.Equal(0, s.Migrate().RepairedLogEntries);
        }
        foreach (var (path, mode) in expected)
            Assert.True(mode == Mode(path), $"{path}: {Mode(path)} instead of {mode}");
        WorkspaceAudit.AssertExactlyOnce(s, 600, "<!-- fact:12");
    }
}
