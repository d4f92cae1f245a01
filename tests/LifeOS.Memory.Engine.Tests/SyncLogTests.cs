using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// A plain run's edits append their new entries to days as the module left them without reading those days
/// whole again (the day's signature, recorded at the module's last write, says they hold only bytes checked
/// before), and never to a day whose file changed since: there the new bytes are checked first.
/// </summary>
public class SyncLogTests
{
    private const string Note = "note\0\n";

    [Fact]
    public void An_edit_goes_to_a_day_as_the_module_left_it_but_never_after_a_damage_appended_since()
    {
        using var s = new Scenario();
        // About 39 rows a day: ids 3 and 100 are on the first and the third day.
        s.Generate(120);
        Assert.Equal(120, s.Migrate().MigratedCount);
        var kept = Path.Combine(s.LogDir, "2024-01-01.md");
        var damaged = Path.Combine(s.LogDir, "2024-01-03.md");
        var asLeft = File.ReadAllBytes(damaged);
        // Another program's line with a NUL, after the module's last entry.
        File.AppendAllText(damaged, Note);
        var before = File.ReadAllBytes(damaged);
        s.Sql($"UPDATE {s.Table} SET content = 'first day edited' WHERE id = 3");
        s.Sql($"UPDATE {s.Table} SET content = 'third day edited' WHERE id = 100");

        var run = s.Migrate();
        Assert.Null(run.FailureId);
        Assert.Equal(2, run.UpdatedCount);
        Assert.Contains(run.Problems, p => p.Path == damaged && p.ErrorId == ErrorIds.DailyLogDamaged);
        Assert.Equal(before, File.ReadAllBytes(damaged));
        Assert.Contains("first day edited", File.ReadAllText(kept));

        // The damage taken away again, the day is as the module left it: the waiting entry goes there.
        File.WriteAllBytes(damaged, asLeft);
        var next = s.Migrate();
        Assert.True(next.Success, string.Join("; ", next.Errors));
        Assert.Empty(next.Problems);
        Assert.Equal(1, next.RepairedLogEntries);
        Assert.Contains("third day edited", File.ReadAllText(damaged));
        Assert.Equal(asLeft, File.ReadAllBytes(damaged)[..asLeft.Length]);
        var v = s.Verify();
        Assert.True(v.IsComplete, $"log missing {string.Join(",", v.LogMissingIds)} " +
            $"duplicates {string.Join(",", v.LogDuplicateIds)}");
    }

    [Fact]
    public void An_edit_that_leaves_the_entry_as_it_was_appends_nothing_to_its_day()
    {
        using var s = new Scenario();
        s.Generate(120, embeddings: true);
        Assert.Equal(120, s.Migrate().MigratedCount);
        var day = Path.Combine(s.LogDir, "2024-01-01.md");
        var before = File.ReadAllBytes(day);
        // The embedding is not in the entry: the fact is refreshed, its entry already says what it should.
        s.Sql($"UPDATE {s.Table} SET embedding = ARRAY[7, 7, 7]::real[] WHERE id = 3");
        s.Sql($"UPDATE {s.Table} SET content = 'edited' WHERE id = 4");

        var run = s.Migrate();
        Assert.True(run.Success, string.Join("; ", run.Errors));
        Assert.Equal(2, run.UpdatedCount);
        var after = File.ReadAllBytes(day);
        Assert.Equal(before, after[..before.Length]);
        var added = System.Text.Encoding.UTF8.GetString(after[before.Length..]);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(added, "<!-- fact:"));
        Assert.Contains("edited", added);
        Assert.True(s.Verify().IsComplete);
    }
}
