using System.Text;
using LifeOS.Memory.Testing;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>A TLS-only cluster of its own, shared by the TLS tests of this class.</summary>
public sealed class TlsClusterFixture : IDisposable
{
    public PostgresCluster Cluster { get; } = new(ssl: true);
    public void Dispose() => Cluster.Dispose();
}

/// <summary>Where passwords come from, where they must never go, and TLS.</summary>
public class SecurityTests(TlsClusterFixture tls) : IClassFixture<TlsClusterFixture>
{
    private const int Rows = 20;

    private static Scenario NewScenario(PostgresCluster? cluster = null)
    {
        var s = new Scenario(cluster: cluster);
        s.Generate(Rows);
        return s;
    }

    private static string NoPassword(Scenario s, string database) =>
        $"Host=127.0.0.1;Port={s.Cluster.Port};Username=postgres;Database={database};Pooling=false";

    private static MigrationResult Migrate(SourceOptions source, string root) =>
        new ArchivalMigrator(source, root).MigrateAsync(new MigrationOptions()).GetAwaiter().GetResult();

    [Fact]
    public void Passwords_from_the_string_the_uri_the_overrides_pgpassword_and_a_pgpass_file_all_work()
    {
        using var s = NewScenario();
        var password = s.Cluster.Password;
        var ways = new List<(string Name, Func<string, MigrationResult> Run)>
        {
            ("connection string", root => Migrate(new SourceOptions { ConnectionString = s.ConnectionString }, root)),
            ("uri", root => Migrate(new SourceOptions { ConnectionString = s.Cluster.Uri(s.Database) }, root)),
            ("overrides", root => Migrate(new SourceOptions
            {
                ConnectionString = $"postgresql://someone:not-it@127.0.0.1:{s.Cluster.Port}/{s.Database}",
                UserName = "postgres", Password = password,
            }, root)),
        };
        foreach (var (name, run) in ways)
        {
            var root = s.Root + "-" + name.Replace(' ', '-');
            try
            {
                var result = run(root);
                Assert.True(result.Success, name);
                Assert.Equal(Rows, result.MigratedCount);
            }
            finally
            {
                Directory.Delete(root, recursive: true);
            }
        }

        // PGPASSWORD and PGPASSFILE belong to the process: a child process gets them, this one stays clean.
        using (var child = ChildMigration.Start(NoPassword(s, s.Database), s.Table, s.Root + "-pgpassword", 100,
                   environment: new Dictionary<string, string?> { ["PGPASSWORD"] = password }))
        {
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(1)) == 0, child.Output);
            Assert.Contains($"result Completed migrated={Rows}", child.Output);
        }
        Directory.Delete(s.Root + "-pgpassword", recursive: true);

        var passfile = Path.Combine(Path.GetTempPath(), "lifeos-pgpass-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(passfile, $"127.0.0.1:{s.Cluster.Port}:{s.Database}:postgres:{password}\n");
        File.SetUnixFileMode(passfile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            using var child = ChildMigration.Start(NoPassword(s, s.Database), s.Table, s.Root, 100,
                environment: new Dictionary<string, string?> { ["PGPASSFILE"] = passfile });
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(1)) == 0, child.Output);
            Assert.Contains($"result Completed migrated={Rows}", child.Output);
        }
        finally
        {
            File.Delete(passfile);
        }
        // Nothing the migration wrote holds the password.
        AssertNoFileHolds(s.Root, password);
    }

    internal static void AssertNoFileHolds(string root, string secret)
    {
        var needle = Encoding.UTF8.GetBytes(secret);
        foreach (var file in Directory.GetFiles(root, "*", SearchOption.AllDirectories))
            Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf(needle) < 0, $"{file} holds the password");
    }

    public static TheoryData<string> FailureKinds() => new()
    {
        "wrong password in the string", "wrong password in the uri", "wrong password override", "unreachable port",
        "unknown host", "bad database name", "tls required but the server has none",
    };

    [Theory]
    [MemberData(nameof(FailureKinds))]
    public async Task Failures_of_every_kind_name_no_password_nor_connection_string_anywhere(string kind)
    {
        using var s = NewScenario();
        const string wrong = "Wr0ng-Pa55w0rd-Never-Shown";
        var port = s.Cluster.Port;
        var keywords = $"Host=127.0.0.1;Port={port};Username=postgres;Password={wrong}";
        var source = kind switch
        {
            "wrong password in the string" =>
                new SourceOptions { ConnectionString = $"{keywords};Database={s.Database}" },
            "wrong password in the uri" =>
                new SourceOptions { ConnectionString = $"postgres://postgres:{wrong}@127.0.0.1:{port}/{s.Database}" },
            "wrong password override" => new SourceOptions { ConnectionString = s.ConnectionString, Password = wrong },
            "unreachable port" =>
                new SourceOptions { ConnectionString = $"postgres://postgres:{wrong}@127.0.0.1:1/{s.Database}" },
            "unknown host" => new SourceOptions
            {
                ConnectionString = $"postgres://postgres:{wrong}@no-such-host.invalid:{port}/{s.Database}",
                ConnectTimeoutSeconds = 5,
            },
            "bad database name" => new SourceOptions { ConnectionString = $"{keywords};Database=no_such_db" },
            _ => new SourceOptions { ConnectionString = s.ConnectionString + $";SSL Mode=Require", Password = wrong },
        };
        var secrets = new[] { wrong, s.Cluster.Password, source.ConnectionString! };
        var migrator = new ArchivalMigrator(source, s.Root);

        var errors = new List<MemoryMigrationException>
        {
            Assert.Throws<MemoryMigrationException>(
                () => migrator.MigrateAsync(new MigrationOptions()).GetAwaiter().GetResult()),
            Assert.Throws<MemoryMigrationException>(() => migrator.VerifyAsync().GetAwaiter().GetResult()),
            Assert.Throws<MemoryMigrationException>(() => migrator.ListSourceTablesAsync().GetAwaiter().GetResult()),
            Assert.Throws<MemoryMigrationException>(
                () => migrator.GetEntriesAsync(null, 0, null).ToBlockingEnumerable().ToList()),
            Assert.Throws<MemoryMigrationException>(
                () => migrator.PlanAsync(new MigrationOptions()).ToBlockingEnumerable().ToList()),
        };
        foreach (var ex in errors)
        {
            Assert.Equal(ErrorIds.PostgresUnavailable, ex.ErrorId);
            SourceFaultTests.AssertNoSecret(ex, secrets);
        }
        var status = await migrator.GetStatusAsync();
        Assert.False(status.PostgresAvailable);
        foreach (var secret in secrets) Assert.DoesNotContain(secret, status.PostgresError);
        Assert.False(Directory.Exists(s.Root));
    }

    [Fact]
    public void A_query_failing_mid_run_names_no_password_either()
    {
        using var s = NewScenario();
        // A view whose rows fail to compute part-way, read by a role of its own with a password of its own.
        var password = "P4ss-" + Guid.NewGuid().ToString("N");
        s.Sql("CREATE VIEW failing AS SELECT id, CASE WHEN id = 15 THEN (1 / (id - id))::text ELSE content END " +
            $"AS content, metadata, created_at FROM {s.Table}");
        s.Sql($"CREATE ROLE reader_{s.Database} LOGIN PASSWORD '{password}'; " +
            $"GRANT SELECT ON failing TO reader_{s.Database}");
        var uri = $"postgresql://reader_{s.Database}:{password}@127.0.0.1:{s.Cluster.Port}/{s.Database}";
        var ex = Assert.Throws<MemoryMigrationException>(
            () => Migrate(new SourceOptions { ConnectionString = uri, Table = "failing" }, s.Root));
        Assert.Equal(ErrorIds.SourceQueryFailed, ex.ErrorId);
        Assert.Contains("22012", ex.Message); // division by zero, named by its SQLSTATE
        SourceFaultTests.AssertNoSecret(ex, password, uri, s.Cluster.Password);
        AssertNoFileHolds(s.Root, password);
    }

    // ---- TLS -------------------------------------------------------------------------------------

    private Scenario TlsScenario() => NewScenario(tls.Cluster);

    [Fact]
    public async Task Tls_require_works_from_the_uri_and_the_connection_string()
    {
        using var s = TlsScenario();
        var c = tls.Cluster;
        var uri = $"postgresql://postgres:{Uri.EscapeDataString(c.Password)}@127.0.0.1:{c.Port}/{s.Database}" +
            "?sslmode=require";
        Assert.Equal(Rows, Migrate(new SourceOptions { ConnectionString = uri }, s.Root).MigratedCount);
        var cs = $"Host=127.0.0.1;Port={c.Port};Username=postgres;Password={c.Password};Database={s.Database};" +
            "SSL Mode=Require";
        var verification =
            await new ArchivalMigrator(new SourceOptions { ConnectionString = cs }, s.Root).VerifyAsync();
        Assert.True(verification.IsComplete);
    }

    [Theory]
    [InlineData("uri", "127.0.0.1")]
    [InlineData("uri", "localhost")]
    [InlineData("connection string", "127.0.0.1")]
    public void Tls_verify_full_with_the_root_certificate_works(string form, string host)
    {
        using var s = TlsScenario();
        var c = tls.Cluster;
        var source = form == "uri"
            ? $"postgresql://postgres:{Uri.EscapeDataString(c.Password)}@{host}:{c.Port}/{s.Database}" +
              $"?sslmode=verify-full&sslrootcert={Uri.EscapeDataString(c.CaCertificatePath!)}"
            : $"Host={host};Port={c.Port};Username=postgres;Password={c.Password};Database={s.Database};" +
              $"SSL Mode=VerifyFull;Root Certificate={c.CaCertificatePath}";
        var result = Migrate(new SourceOptions { ConnectionString = source }, s.Root);
        Assert.Equal(Rows, result.MigratedCount);
        WorkspaceAudit.AssertExactlyOnce(s, Rows);
    }

    [Theory]
    [InlineData("verify-full with another root")]
    [InlineData("sslmode disable on a tls-only server")]
    public void Tls_failures_are_unavailable_sources_without_the_password(string kind)
    {
        using var s = TlsScenario();
        var c = tls.Cluster;
        var uri = kind.StartsWith("verify-full", StringComparison.Ordinal)
            ? $"postgresql://postgres:{Uri.EscapeDataString(c.Password)}@127.0.0.1:{c.Port}/{s.Database}" +
              $"?sslmode=verify-full&sslrootcert={Uri.EscapeDataString(c.OtherCaCertificatePath!)}"
            : $"postgresql://postgres:{Uri.EscapeDataString(c.Password)}@127.0.0.1:{c.Port}/{s.Database}" +
              "?sslmode=disable";
        var ex = Assert.Throws<MemoryMigrationException>(
            () => Migrate(new SourceOptions { ConnectionString = uri }, s.Root));
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.ErrorId);
        Assert.Equal(FailureKind.ConnectionError, ex.Kind);
        SourceFaultTests.AssertNoSecret(ex, c.Password, Uri.EscapeDataString(c.Password), uri);
        Assert.False(Directory.Exists(s.Root));
    }
}
