using System.Globalization;
using System.Net.Sockets;
using Npgsql;

namespace LifeOS.Memory.Archival;

/// <summary>
/// Turns what the user gave (Npgsql string, postgres:// URI, overrides, $DATABASE_URL) into a connection,
/// and keeps every secret it saw so that no message carries one out.
/// </summary>
internal sealed class SourceConnection
{
    public const string DatabaseUrlVariable = "DATABASE_URL";
    private readonly List<string> _secrets = new();

    public SourceConnection(SourceOptions options)
    {
        var raw = options.ConnectionString;
        if (string.IsNullOrWhiteSpace(raw))
            raw = Environment.GetEnvironmentVariable(DatabaseUrlVariable);
        if (string.IsNullOrWhiteSpace(raw))
            throw new MemoryMigrationException(ErrorIds.InvalidConnectionString, FailureKind.InvalidArgument,
                "No PostgreSQL connection was given: pass a connection string or set $env:DATABASE_URL.");
        AddSecret(raw);

        var builder = IsUri(raw) ? FromUri(raw, out var given) : FromKeywords(raw, out given);
        if (!string.IsNullOrEmpty(options.UserName)) builder.Username = options.UserName;
        if (options.Password != null) builder.Password = options.Password;
        AddSecret(builder.Password);
        AddSecret(Environment.GetEnvironmentVariable("PGPASSWORD"));

        if (string.IsNullOrEmpty(builder.Host)) builder.Host = "localhost";
        builder.ApplicationName ??= "LifeOS.Memory";
        // What the caller set wins, then what the connection string says, then the defaults.
        builder.Timeout = Math.Clamp(options.ConnectTimeoutSeconds
            ?? (given.ConnectTimeout ? builder.Timeout : SourceOptions.DefaultConnectTimeoutSeconds), 1, 1024);
        builder.CommandTimeout = Math.Max(0, options.CommandTimeoutSeconds
            ?? (given.CommandTimeout ? builder.CommandTimeout : SourceOptions.DefaultCommandTimeoutSeconds));
        // Keep server error details out of exception text: they can echo row values.
        builder.IncludeErrorDetail = false;
        ConnectionString = builder.ConnectionString;
        AddSecret(ConnectionString);
        Description = $"{builder.Host}:{builder.Port}/{builder.Database}";
    }

    public string ConnectionString { get; }

    /// <summary>host:port/database — safe to show.</summary>
    public string Description { get; }

    public static bool IsUri(string s) =>
        s.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
        || s.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);

    public async Task<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new NpgsqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw Unavailable(ex);
        }
    }

    /// <summary>The error for a source that cannot be reached or refused us.</summary>
    public MemoryMigrationException Unavailable(Exception ex) =>
        new(ErrorIds.PostgresUnavailable, FailureKind.ConnectionError,
            $"PostgreSQL at {Description} is not available: {Redact(Describe(ex))}", null);

    /// <summary>Runs a source call, turning driver failures into engine errors without secrets.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex)
            when (ex is NpgsqlException or IOException or InvalidOperationException or TimeoutException)
        {
            throw QueryFailed(ex);
        }
    }

    /// <summary>Wraps a failure of a query against a reachable source.</summary>
    public MemoryMigrationException QueryFailed(Exception ex)
    {
        if (IsConnectionLoss(ex)) return Unavailable(ex);
        if (ex is NpgsqlException { InnerException: TimeoutException }
            || ex is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled })
            return new MemoryMigrationException(ErrorIds.SourceQueryFailed, FailureKind.OperationTimeout,
                $"A query on PostgreSQL at {Description} timed out: {Redact(Describe(ex))}");
        if (ex is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable })
            return new MemoryMigrationException(ErrorIds.SourceTableNotFound, FailureKind.ObjectNotFound,
                $"The source table disappeared during the run: {Redact(Describe(ex))}");
        return new MemoryMigrationException(ErrorIds.SourceQueryFailed, FailureKind.InvalidData,
            $"A query on PostgreSQL at {Description} failed: {Redact(Describe(ex))}");
    }

    public static bool IsConnectionLoss(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal)
                                || pg.SqlState.StartsWith("57P", StringComparison.Ordinal)
                                || pg.SqlState is PostgresErrorCodes.InvalidPassword
                                    or PostgresErrorCodes.InvalidAuthorizationSpecification
                                    or PostgresErrorCodes.InvalidCatalogName,
        NpgsqlException { InnerException: TimeoutException } => false,
        NpgsqlException => true,
        SocketException or IOException or EndOfStreamException => true,
        InvalidOperationException ioe => ioe.Message.Contains("connection", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    /// <summary>Removes every secret this connection saw from a message.</summary>
    public string Redact(string message)
    {
        foreach (var secret in _secrets)
            message = message.Replace(secret, "***", StringComparison.Ordinal);
        return message;
    }

    private static string Describe(Exception ex)
    {
        var parts = new List<string>();
        for (var e = ex; e != null && parts.Count < 3; e = e.InnerException)
        {
            var m = e is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : e.Message;
            if (!parts.Contains(m)) parts.Add(m);
        }
        return string.Join(" -> ", parts);
    }

    private void AddSecret(string? secret)
    {
        // Very short values would redact ordinary words; they are not worth hiding that way.
        if (!string.IsNullOrEmpty(secret) && secret.Length >= 3 && !_secrets.Contains(secret))
        {
            _secrets.Add(secret);
            _secrets.Sort((a, b) => b.Length.CompareTo(a.Length));
            var escaped = Uri.EscapeDataString(secret);
            if (escaped != secret && !_secrets.Contains(escaped)) _secrets.Add(escaped);
        }
    }

    /// <summary>Which timeouts the connection string itself sets.</summary>
    private readonly record struct GivenTimeouts(bool ConnectTimeout, bool CommandTimeout);

    private static NpgsqlConnectionStringBuilder FromKeywords(string raw, out GivenTimeouts given)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(raw);
            // The generic builder keeps only the keywords written (Npgsql's lists every one it knows).
            var written = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = raw };
            given = new GivenTimeouts(written.ContainsKey("Timeout"),
                written.ContainsKey("Command Timeout") || written.ContainsKey("CommandTimeout"));
            return builder;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new MemoryMigrationException(ErrorIds.InvalidConnectionString, FailureKind.InvalidArgument,
                "The PostgreSQL connection string is not valid " +
                "(expected 'Host=…;Database=…' or postgres://user@host:port/db): " +
                FirstKeywordProblem(ex));
        }
    }

    // ArgumentException messages from the builder name the keyword, not the value; keep only that much.
    private static string FirstKeywordProblem(Exception ex)
    {
        var m = ex.Message;
        var cut = m.AsSpan().IndexOfAny('\r', '\n');
        var first = cut > 0 ? m[..cut] : m;
        return first.Length is > 0 and <= 200 ? first : "unrecognised format";
    }

    private NpgsqlConnectionStringBuilder FromUri(string raw, out GivenTimeouts given)
    {
        given = default;
        Uri uri;
        try
        {
            uri = new Uri(raw);
        }
        catch (UriFormatException)
        {
            throw new MemoryMigrationException(ErrorIds.InvalidConnectionString, FailureKind.InvalidArgument,
                "The PostgreSQL URI is malformed (expected postgres://user:password@host:port/database?sslmode=…).");
        }
        var b = new NpgsqlConnectionStringBuilder();
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var colon = uri.UserInfo.IndexOf(':');
            var user = colon < 0 ? uri.UserInfo : uri.UserInfo[..colon];
            b.Username = Uri.UnescapeDataString(user);
            if (colon >= 0)
            {
                var password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
                AddSecret(password);
                b.Password = password;
            }
        }
        var host = uri.Host;
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (!string.IsNullOrEmpty(host)) b.Host = Uri.UnescapeDataString(host);
        if (uri.Port > 0) b.Port = uri.Port;
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (!string.IsNullOrEmpty(database)) b.Database = database;

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]).ToLowerInvariant();
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            switch (key)
            {
                case "sslmode":
                    b.SslMode = value.ToLowerInvariant() switch
                    {
                        "disable" => SslMode.Disable,
                        "allow" => SslMode.Allow,
                        "prefer" => SslMode.Prefer,
                        "require" => SslMode.Require,
                        "verify-ca" => SslMode.VerifyCA,
                        "verify-full" => SslMode.VerifyFull,
                        _ => throw new MemoryMigrationException(ErrorIds.InvalidConnectionString,
                            FailureKind.InvalidArgument,
                            $"The PostgreSQL URI has an unknown sslmode '{value}' " +
                            "(disable, allow, prefer, require, verify-ca, verify-full)."),
                    };
                    break;
                case "sslrootcert": b.RootCertificate = value; break;
                case "sslcert": b.SslCertificate = value; break;
                case "sslkey": b.SslKey = value; break;
                case "connect_timeout":
                    b.Timeout = Number(key, value);
                    given = given with { ConnectTimeout = true };
                    break;
                case "application_name": b.ApplicationName = value; break;
                case "options": b.Options = value; break;
                case "user": b.Username = value; break;
                case "password": AddSecret(value); b.Password = value; break;
                case "dbname": b.Database = value; break;
                case "host": b.Host = value; break;
                case "port": b.Port = Number(key, value); break;
                // libpq accepts many tuning parameters Npgsql has no use for; ignoring them is what libpq users
                // expect.
                default: break;
            }
        }
        return b;
    }

    private static int Number(string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new MemoryMigrationException(ErrorIds.InvalidConnectionString, FailureKind.InvalidArgument,
                $"The PostgreSQL URI's {key} must be a whole number.");
}
