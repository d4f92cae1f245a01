using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LifeOS.Memory.Testing;

/// <summary>
/// A throwaway PostgreSQL cluster on 127.0.0.1 and a free port, owned by the test run.
/// Password authentication over TCP (scram) so that credential handling is tested for real.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    private static readonly Lazy<PostgresCluster> SharedCluster =
        new(() => new PostgresCluster(), LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _databaseCounter;

    /// <summary>One cluster per test process, stopped when the process exits.</summary>
    public static PostgresCluster Shared => SharedCluster.Value;

    public const string SuperUser = "postgres";

    /// <param name="ssl">
    /// Serve TLS only: a throwaway root CA signs a server certificate for 127.0.0.1 and localhost, and pg_hba
    /// accepts TCP connections over TLS alone (plain ones are rejected). <see cref="CaCertificatePath"/> is the
    /// root to trust; <see cref="OtherCaCertificatePath"/> a second CA that signed nothing here.
    /// </param>
    public PostgresCluster(bool ssl = false)
    {
        BinDirectory = FindBinDirectory();
        RemoveStaleClusters();
        Password = "pw-" + Guid.NewGuid().ToString("N");
        DataDirectory = Path.Combine(Path.GetTempPath(), "lifeos-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(DataDirectory);
        Port = FreePort();
        var pwFile = Path.Combine(DataDirectory, "pwfile");
        File.WriteAllText(pwFile, Password + "\n");
        var data = Path.Combine(DataDirectory, "data");
        if (IsRoot)
            Run("chown", "-R", "postgres:postgres", DataDirectory);
        RunPg("initdb", "-D", data, "-U", SuperUser, "--pwfile=" + pwFile, "--auth-local=trust",
            "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync");
        File.AppendAllText(Path.Combine(data, "postgresql.conf"),
            "\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n" +
            "max_connections = 200\nshared_buffers = 256MB\n");
        if (ssl) EnableSsl(data);
        Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
        StartWatchdog();
    }

    public int Port { get; }
    /// <summary>The root CA that signed the server certificate (TLS clusters only).</summary>
    public string? CaCertificatePath { get; private set; }
    /// <summary>A root CA that signed nothing this server presents (TLS clusters only).</summary>
    public string? OtherCaCertificatePath { get; private set; }
    public string Password { get; }
    public string BinDirectory { get; }
    public string DataDirectory { get; }
    private string Data => Path.Combine(DataDirectory, "data");
    private bool _disposed;

    public static bool IsRoot => Environment.UserName == "root";

    public void Start()
    {
        RunPg("pg_ctl", "-D", Data, "-w", "-t", "60", "-l", Path.Combine(DataDirectory, "server.log"), "-o",
            $"-p {Port} -c listen_addresses=127.0.0.1 -k {DataDirectory}", "start");
    }

    public void Stop(string mode = "fast") => RunPg("pg_ctl", "-D", Data, "-w", "-m", mode, "stop");

    /// <summary>Npgsql connection string for a database of this cluster (the password included: tests only).</summary>
    public string ConnectionString(string database = "postgres", string? user = null, string? password = null) =>
        $"Host=127.0.0.1;Port={Port};Username={user ?? SuperUser};Password={password ?? Password};" +
        $"Database={database};Pooling=false;Timeout=15";

    public string Uri(string database) =>
        $"postgresql://{SuperUser}:{System.Uri.EscapeDataString(Password)}@127.0.0.1:{Port}/{database}";

    /// <summary>A new, empty database; returns its name.</summary>
    public string CreateDatabase(string prefix = "t")
    {
        var name = $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _databaseCounter)}";
        Psql("postgres", $"CREATE DATABASE \"{name}\"");
        return name;
    }

    /// <summary>Runs SQL through psql on the local socket (no password needed there).</summary>
    public string Psql(string database, string sql)
    {
        return RunPg("psql", "-h", DataDirectory, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", SuperUser,
            "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try { Stop("immediate"); } catch { /* already stopped */ }
        try { Directory.Delete(DataDirectory, recursive: true); } catch { /* best effort */ }
    }

    /// <summary>
    /// The test host is often ended before ProcessExit handlers finish (dotnet test kills it once the results
    /// are in), which left every cluster of a run running and on disk. A detached shell outside this process
    /// tree waits for this process to go, then stops the server and deletes its folder.
    /// </summary>
    private void StartWatchdog()
    {
        var pgCtl = Path.Combine(BinDirectory, "pg_ctl");
        var stop = IsRoot ? $"runuser -u postgres -- '{pgCtl}'" : $"'{pgCtl}'";
        var watch =
            $"while kill -0 {Environment.ProcessId} 2>/dev/null && [ -d '{DataDirectory}' ]; do sleep 2; done; " +
            $"[ -f '{Data}/postmaster.pid' ] && {stop} -D '{Data}' -m immediate -w stop; rm -rf '{DataDirectory}'";
        // The outer shell exits at once, so the watchdog is nobody's child here and survives a kill of the process
        // tree.
        var psi = new ProcessStartInfo("bash")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"setsid bash -c \"{watch}\" </dev/null >/dev/null 2>&1 &");
        using var p = Process.Start(psi);
        p?.WaitForExit(10_000);
    }

    private void EnableSsl(string data)
    {
        var dir = DataDirectory;
        string F(string name) => Path.Combine(dir, name);
        foreach (var ca in new[] { "ca", "other-ca" })
        {
            Run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", F(ca + ".key"),
                "-out", F(ca + ".crt"), "-subj", "/CN=LifeOS test " + ca,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        }
        File.WriteAllText(F("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
        var serverKey = Path.Combine(data, "server.key");
        var serverCertificate = Path.Combine(data, "server.crt");
        Run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", serverKey, "-out", F("server.csr"),
            "-subj", "/CN=localhost");
        Run("openssl", "x509", "-req", "-in", F("server.csr"), "-CA", F("ca.crt"), "-CAkey", F("ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", F("server.ext"), "-out", serverCertificate);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(serverKey, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (IsRoot) Run("chown", "postgres:postgres", serverKey, serverCertificate);
        File.AppendAllText(Path.Combine(data, "postgresql.conf"),
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        var hba = Path.Combine(data, "pg_hba.conf");
        var lines = File.ReadAllLines(hba)
            .Select(l => l.StartsWith("host ", StringComparison.Ordinal) ? "hostssl" + l[4..] : l).ToList();
        lines.Add("hostnossl all all 0.0.0.0/0 reject");
        lines.Add("hostnossl all all ::/0 reject");
        File.WriteAllLines(hba, lines);
        CaCertificatePath = F("ca.crt");
        OtherCaCertificatePath = F("other-ca.crt");
    }

    private string RunPg(string tool, params string[] args)
    {
        var exe = Path.Combine(BinDirectory, tool);
        if (!File.Exists(exe)) exe = tool; // psql lives on PATH on Debian
        return IsRoot
            ? Run("runuser", new[] { "-u", "postgres", "--", exe }.Concat(args).ToArray())
            : Run(exe, args);
    }

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("PGPASSWORD");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException(file + " did not finish"); }
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args.Take(3))}... " +
                $"exited {p.ExitCode}: {stderr.Result}{stdout.Result}");
        }
        return stdout.Result;
    }

    private static string FindBinDirectory()
    {
        var fromEnv = Environment.GetEnvironmentVariable("PG_BIN");
        if (!string.IsNullOrEmpty(fromEnv) && File.Exists(Path.Combine(fromEnv, "initdb"))) return fromEnv;
        var root = "/usr/lib/postgresql";
        if (Directory.Exists(root))
        {
            var bin = Directory.GetDirectories(root)
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => d, StringComparer.Ordinal)
                .FirstOrDefault();
            if (bin != null) return bin;
        }
        throw new InvalidOperationException(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found. " +
            "Install them with 'apt-get install -y postgresql' " +
            "or set PG_BIN to the folder that holds initdb. These tests need a real PostgreSQL; they are not skipped.");
    }

    /// <summary>Clusters of earlier test processes that were killed before they could clean up.</summary>
    private static void RemoveStaleClusters()
    {
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "lifeos-pg-*"))
        {
            var pidFile = Path.Combine(dir, "data", "postmaster.pid");
            try
            {
                if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).First(), out var pid)
                    && Directory.Exists($"/proc/{pid}"))
                    continue;
                // Another test process may be creating its cluster right now.
                if (Directory.GetLastWriteTimeUtc(dir) > DateTime.UtcNow.AddMinutes(-10))
                    continue;
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
