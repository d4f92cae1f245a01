using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>The README's error table lists exactly the ids the engine can raise.</summary>
public partial class ErrorTablePureTests
{
    [GeneratedRegex(@"^\| `(\w+)` \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    /// <summary>The ids in the README's "Error ids" table.</summary>
    internal static HashSet<string> ReadmeIds()
    {
        var readme = File.ReadAllText(Path.Combine(LineLengthPureTests.RepositoryRoot(), "README.md"));
        var start = readme.IndexOf("### Error ids", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '### Error ids' section");
        var end = readme.IndexOf("\n#", start + 1, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        return TableRow().Matches(section).Select(m => m.Groups[1].Value).Where(id => id != "Id").ToHashSet();
    }

    [Fact]
    public void The_readme_table_holds_every_error_id_and_no_other()
    {
        var constants = typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet();
        Assert.Equal(constants.Order(), ErrorIds.All.Order());
        Assert.Equal(constants.Order(), ReadmeIds().Order());
    }
}
