using System.Text;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>The C# sources keep within the .editorconfig's max_line_length of 120 characters.</summary>
public class LineLengthPureTests
{
    private const int MaxLineLength = 120;

    [Theory]
    [InlineData("src")]
    [InlineData("bench")]
    [InlineData("tests")]
    public void Every_line_of_the_sources_is_within_120_characters(string folder)
    {
        var root = Path.Combine(RepositoryRoot(), folder);
        var tooLong = new List<string>();
        foreach (var file in SourceFiles(root))
        {
            var lines = File.ReadAllText(file, Encoding.UTF8).Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].EndsWith('\r') ? lines[i][..^1] : lines[i];
                var length = line.EnumerateRunes().Count();
                if (length > MaxLineLength)
                    tooLong.Add($"{Path.GetRelativePath(RepositoryRoot(), file)}:{i + 1} ({length} characters)");
            }
        }
        Assert.True(tooLong.Count == 0,
            $"{tooLong.Count} line(s) longer than {MaxLineLength} characters:\n" + string.Join('\n', tooLong));
    }

    private static IEnumerable<string> SourceFiles(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder, "*.cs"))
            yield return file;
        foreach (var sub in Directory.EnumerateDirectories(folder))
        {
            if (Path.GetFileName(sub) is "bin" or "obj") continue;
            foreach (var file in SourceFiles(sub))
                yield return file;
        }
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LifeOS.Memory.PowerShell.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException(
            $"No folder above {AppContext.BaseDirectory} holds LifeOS.Memory.PowerShell.sln.");
    }
}
