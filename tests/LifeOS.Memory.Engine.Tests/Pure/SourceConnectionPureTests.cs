using LifeOS.Memory.Archival;
using Npgsql;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>
/// Turning what the user gave into Npgsql settings, and keeping secrets out of messages. Nothing is opened:
/// the settings are read back from the connection string the engine would use.
/// </summary>
public class SourceConnectionPureTests
{
    private const string Password = "Secret-Pw";

    private static SourceConnection Connect(string connectionString, string? user = null, string? password = null,
        int connectTimeout = 15, int commandTimeout = 300) =>
        new(new SourceOptions
        {
            ConnectionString = connectionString, UserName = user, Password = password,
            ConnectTimeoutSeconds = connectTimeout, CommandTimeoutSeconds = commandTimeout,
        });

    private static NpgsqlConnectionStringBuilder Settings(SourceConnection connection) =>
        new(connection.ConnectionString);

    private static MemoryMigrationException Refused(string connectionString)
    {
        var ex = Assert.Throws<MemoryMigrationException>(() => Connect(connectionString));
        Assert.Equal(ErrorIds.InvalidConnectionString, ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        return ex;
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("postgresql")]
    [InlineData("POSTGRESQL")]
    [InlineData("Postgres")]
    public void A_uri_gives_user_percent_decoded_password_host_port_database_and_sslmode(string scheme)
    {
        var connection = Connect(
            $"{scheme}://al%40ice:p%40ss%3Aw%2Frd%20%25@db.example.com:6543/my%20db?sslmode=require");
        var b = Settings(connection);
        Assert.Equal("al@ice", b.Username);
        Assert.Equal("p@ss:w/rd %", b.Password);
        Assert.Equal("db.example.com", b.Host);
        Assert.Equal(6543, b.Port);
        Assert.Equal("my db", b.Database);
        Assert.Equal(SslMode.Require, b.SslMode);
        Assert.Equal("db.example.com:6543/my db", connection.Description);
        Assert.DoesNotContain("p@ss", connection.Description);
    }

    [Fact]
    public void A_password_may_itself_hold_colons_only_the_first_one_ends_the_user()
    {
        var b = Settings(Connect("postgres://bob:a:b:c@h/db"));
        Assert.Equal("bob", b.Username);
        Assert.Equal("a:b:c", b.Password);
    }

    [Fact]
    public void A_uri_without_password_port_or_database_leaves_them_at_the_defaults()
    {
        var connection = Connect("postgres://bob@db.example.com");
        var b = Settings(connection);
        Assert.Equal("bob", b.Username);
        Assert.Null(b.Password);
        Assert.Equal(5432, b.Port);
        Assert.Null(b.Database);
        Assert.Equal("db.example.com:5432/", connection.Description);
    }

    [Fact]
    public void A_uri_without_host_connects_to_localhost()
    {
        var connection = Connect("postgresql:///archive");
        Assert.Equal("localhost", Settings(connection).Host);
        Assert.Equal("localhost:5432/archive", connection.Description);
    }

    [Theory]
    [InlineData("[::1]", "::1")]
    [InlineData("[2001:db8::10]", "2001:db8::10")]
    [InlineData("[::ffff:192.0.2.1]", "::ffff:192.0.2.1")]
    public void Ipv6_hosts_lose_their_brackets_and_keep_their_port(string uriHost, string host)
    {
        var connection = Connect($"postgres://u:{Password}@{uriHost}:5433/db");
        var b = Settings(connection);
        Assert.Equal(host, b.Host);
        Assert.Equal(5433, b.Port);
        Assert.Equal(Password, b.Password);
        Assert.Equal($"{host}:5433/db", connection.Description);
    }

    [Theory]
    [InlineData("disable", SslMode.Disable)]
    [InlineData("allow", SslMode.Allow)]
    [InlineData("prefer", SslMode.Prefer)]
    [InlineData("require", SslMode.Require)]
    [InlineData("verify-ca", SslMode.VerifyCA)]
    [InlineData("verify-full", SslMode.VerifyFull)]
    [InlineData("REQUIRE", SslMode.Require)]
    [InlineData("Verify-Full", SslMode.VerifyFull)]
    public void Every_libpq_sslmode_maps_to_the_npgsql_mode(string sslmode, SslMode expected) =>
        Assert.Equal(expected, Settings(Connect($"postgres://u@h/db?sslmode={sslmode}")).SslMode);

    [Fact]
    public void Query_options_set_certificates_application_name_and_server_options_decoded()
    {
        var b = Settings(Connect("postgres://u@h/db?sslrootcert=%2Fetc%2Fca.pem&sslcert=c.pem&sslkey=k%20.pem"
            + "&application_name=my+app%2B1&options=-c%20search_path%3Dx"));
        Assert.Equal("/etc/ca.pem", b.RootCertificate);
        Assert.Equal("c.pem", b.SslCertificate);
        Assert.Equal("k .pem", b.SslKey);
        Assert.Equal("my app+1", b.ApplicationName); // '+' is a space in a query, "%2B" a plus
        Assert.Equal("-c search_path=x", b.Options);
    }

    [Fact]
    public void Query_parameters_npgsql_has_no_use_for_are_ignored_as_libpq_users_expect()
    {
        var b = Settings(Connect("postgres://u@h/db?target_session_attrs=any&keepalives=1&gssencmode=disable&flag"));
        Assert.Equal("h", b.Host);
        Assert.Equal("db", b.Database);
    }

    [Fact]
    public void Query_parameters_for_user_password_host_port_and_dbname_override_the_uri_parts()
    {
        var connection = Connect("postgres://a:one-pw@h1:1111/d1?user=b&password=two%26pw&host=h2&port=2222&dbname=d2");
        var b = Settings(connection);
        Assert.Equal(("b", "two&pw", "h2", 2222, "d2"), (b.Username, b.Password, b.Host, b.Port, b.Database));
        Assert.Equal("h2:2222/d2", connection.Description);
    }

    [Fact]
    public void A_keyword_connection_string_keeps_its_settings()
    {
        var connection = Connect($"Host=db;Port=5433;Database=mem;Username=u;Password={Password};SSL Mode=Require");
        var b = Settings(connection);
        Assert.Equal(("db", 5433, "mem", "u", Password, SslMode.Require),
            (b.Host, b.Port, b.Database, b.Username, b.Password, b.SslMode));
        Assert.Equal("db:5433/mem", connection.Description);
    }

    [Fact]
    public void A_keyword_connection_string_without_host_connects_to_localhost() =>
        Assert.Equal("localhost", Settings(Connect("Database=mem")).Host);

    [Fact]
    public void The_application_name_defaults_to_the_module_and_a_given_one_is_kept()
    {
        Assert.Equal("LifeOS.Memory", Settings(Connect("Host=h")).ApplicationName);
        Assert.Equal("LifeOS.Memory", Settings(Connect("postgres://h/db")).ApplicationName);
        Assert.Equal("mine", Settings(Connect("Host=h;Application Name=mine")).ApplicationName);
        Assert.Equal("mine", Settings(Connect("postgres://h/db?application_name=mine")).ApplicationName);
    }

    [Fact]
    public void Server_error_details_are_always_left_out_because_they_can_echo_row_values()
    {
        Assert.False(Settings(Connect("Host=h;Include Error Detail=true")).IncludeErrorDetail);
        Assert.False(Settings(Connect("postgres://h/db")).IncludeErrorDetail);
    }

    [Theory]
    [InlineData(-5, 1)]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(15, 15)]
    [InlineData(1024, 1024)]
    [InlineData(5000, 1024)]
    public void The_connect_timeout_is_kept_between_1_and_1024_seconds(int given, int expected) =>
        Assert.Equal(expected, Settings(Connect("Host=h", connectTimeout: given)).Timeout);

    [Theory]
    [InlineData(-5, 0)]
    [InlineData(0, 0)]
    [InlineData(300, 300)]
    [InlineData(100_000, 100_000)]
    public void The_command_timeout_is_never_negative_and_0_means_no_limit(int given, int expected) =>
        Assert.Equal(expected, Settings(Connect("Host=h", commandTimeout: given)).CommandTimeout);

    [Theory]
    [InlineData("postgres://olduser:oldpw@h/db")]
    [InlineData("Host=h;Username=olduser;Password=oldpw")]
    public void User_and_password_options_override_the_connection_string(string connectionString)
    {
        var b = Settings(Connect(connectionString, user: "newuser", password: "new-pw"));
        Assert.Equal(("newuser", "new-pw"), (b.Username, b.Password));
    }

    [Fact]
    public void An_absent_password_option_keeps_the_password_of_the_connection_string() =>
        Assert.Equal("oldpw", Settings(Connect("postgres://u:oldpw@h/db", user: "other")).Password);

    [Theory]
    [InlineData("postgres://h", true)]
    [InlineData("postgresql://h", true)]
    [InlineData("PostgreSQL://h", true)]
    [InlineData("Host=postgres://h", false)]
    [InlineData("postgres:h", false)]
    [InlineData("postgres:/h", false)]
    [InlineData("mysql://h", false)]
    [InlineData(" postgres://h", false)]
    public void Only_postgres_and_postgresql_schemes_are_uris(string text, bool expected) =>
        Assert.Equal(expected, SourceConnection.IsUri(text));

    [Theory]
    [InlineData("postgres://u:Secret-Pw@[::1/db")]
    [InlineData("postgres://u:Secret-Pw@host:99999/db")]
    [InlineData("postgres://u:Secret-Pw@host:abc/db")]
    [InlineData("postgresql://u:Secret-Pw@h:5432/db?sslmode=sometimes")]
    [InlineData("postgresql://u:Secret%2DPw@h:5432/db?sslmode=sometimes")]
    [InlineData("Hots=h;Password=Secret-Pw")]
    [InlineData("Host=h;Password=\"Secret-Pw")]
    [InlineData("Host=h;Port=abc;Password=Secret-Pw")]
    [InlineData("Host=h;Password=Secret-Pw;Port=Secret-Pw")]
    [InlineData("Host=h;SSL Mode=Secret-Pw;Password=Secret-Pw")]
    [InlineData("Password=Secret-Pw;no equals sign")]
    public void Malformed_connections_are_refused_without_the_password_in_the_error(string connectionString)
    {
        var ex = Refused(connectionString);
        Assert.Contains("PostgreSQL", ex.Message);
        Assert.DoesNotContain(Password, ex.ToString());
        Assert.DoesNotContain("Secret%2DPw", ex.ToString());
    }

    [Fact]
    public void A_malformed_uri_is_told_with_the_expected_shape()
    {
        var ex = Refused($"postgres://u:{Password}@[::1/db");
        Assert.Contains("URI is malformed", ex.Message);
        Assert.Contains("postgres://user:password@host:port/database", ex.Message);
    }

    [Fact]
    public void An_unknown_sslmode_is_named_with_the_accepted_values()
    {
        var ex = Refused($"postgres://u:{Password}@h/db?sslmode=sometimes");
        Assert.Contains("'sometimes'", ex.Message);
        foreach (var mode in new[] { "disable", "allow", "prefer", "require", "verify-ca", "verify-full" })
            Assert.Contains(mode, ex.Message);
    }

    [Fact]
    public void A_misspelt_keyword_is_named()
    {
        var ex = Refused($"Hots=h;Password={Password}");
        Assert.Contains("hots", ex.Message);
    }

    [Theory]
    [InlineData("postgres://u:Secret-Pw@h/db?port=abc", "port")]
    [InlineData("postgres://u:Secret-Pw@h/db?connect_timeout=3s", "connect_timeout")]
    [InlineData("postgres://u:Secret-Pw@h/db?connect_timeout=-1", "connect_timeout")]
    public void Query_numbers_that_are_not_whole_numbers_are_refused_like_libpq_does(string uri, string key)
    {
        var ex = Refused(uri);
        Assert.Contains(key, ex.Message);
        Assert.DoesNotContain(Password, ex.ToString());
    }

    private static NpgsqlConnectionStringBuilder DefaultSettings(string connectionString) =>
        Settings(new SourceConnection(new SourceOptions { ConnectionString = connectionString }));

    [Theory]
    [InlineData("postgres://u@h/db?connect_timeout=3", 3, 300)]
    [InlineData("Host=h;Timeout=3;Command Timeout=7", 3, 7)]
    [InlineData("Host=h;CommandTimeout=0", 15, 0)]
    [InlineData("Host=h;Command Timeout=30", 15, 30)]
    [InlineData("Host=h", 15, 300)]
    [InlineData("postgres://u@h/db", 15, 300)]
    public void Timeouts_written_in_the_connection_are_kept_and_the_others_default(string connectionString,
        int connect, int command)
    {
        var b = DefaultSettings(connectionString);
        Assert.Equal(connect, b.Timeout);
        Assert.Equal(command, b.CommandTimeout);
    }

    [Fact]
    public void Timeouts_set_as_options_win_over_the_connection_string()
    {
        var b = Settings(Connect("Host=h;Timeout=3;Command Timeout=7", connectTimeout: 20, commandTimeout: 60));
        Assert.Equal(20, b.Timeout);
        Assert.Equal(60, b.CommandTimeout);
    }

    [Fact]
    public void A_malformed_keyword_string_is_told_with_the_expected_shapes()
    {
        var ex = Refused($"Hots=h;Password={Password}");
        Assert.Contains("connection string is not valid", ex.Message);
        Assert.Contains("Host=", ex.Message);
        Assert.Contains("postgres://", ex.Message);
    }

    [Fact]
    public void Later_failures_show_where_but_never_the_password_raw_or_percent_encoded()
    {
        const string password = "p@ss:w/rd-Hidden";
        const string encoded = "p%40ss%3Aw%2Frd-Hidden";
        var uri = $"postgres://u:{encoded}@db.example.com:6543/db";
        var connection = Connect(uri);
        var inner = new InvalidOperationException($"inner says {password}");
        var ex = connection.Unavailable(new IOException($"failed with {encoded} via {uri}", inner));
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.ErrorId);
        Assert.Equal(FailureKind.ConnectionError, ex.Kind);
        Assert.Contains("db.example.com:6543/db", ex.Message);
        Assert.Contains("***", ex.Message);
        Assert.Contains("inner says", ex.Message); // the causes are described, only the secret is cut out
        Assert.DoesNotContain("Hidden", ex.ToString());
    }

    [Fact]
    public void A_password_given_as_an_option_is_redacted_too()
    {
        var connection = Connect("postgres://u:uri-password@h/db", password: "Option Pw+/");
        var message = connection.Redact("a Option Pw+/ b Option%20Pw%2B%2F c uri-password d");
        Assert.Equal("a *** b *** c *** d", message);
    }

    [Fact]
    public void The_whole_connection_string_is_redacted_from_messages()
    {
        var connection = Connect($"Host=h;Username=u;Password={Password}");
        Assert.DoesNotContain(Password, connection.Redact("driver said: " + connection.ConnectionString));
    }

    public static IEnumerable<object[]> QueryFailures() => new[]
    {
        new object[] { Pg("57014"), ErrorIds.SourceQueryFailed, FailureKind.OperationTimeout },
        new object[]
        {
            new NpgsqlException("slow", new TimeoutException()),
            ErrorIds.SourceQueryFailed, FailureKind.OperationTimeout,
        },
        new object[] { Pg("42P01"), ErrorIds.SourceTableNotFound, FailureKind.ObjectNotFound },
        new object[] { Pg("08006"), ErrorIds.PostgresUnavailable, FailureKind.ConnectionError },
        new object[] { Pg("57P01"), ErrorIds.PostgresUnavailable, FailureKind.ConnectionError },
        new object[] { Pg("28P01"), ErrorIds.PostgresUnavailable, FailureKind.ConnectionError },
        new object[] { Pg("3D000"), ErrorIds.PostgresUnavailable, FailureKind.ConnectionError },
        new object[] { new IOException("reset"), ErrorIds.PostgresUnavailable, FailureKind.ConnectionError },
        new object[] { new NpgsqlException("broken"), ErrorIds.PostgresUnavailable, FailureKind.ConnectionError },
        new object[] { Pg("22P02"), ErrorIds.SourceQueryFailed, FailureKind.InvalidData },
        new object[] { Pg("42501"), ErrorIds.SourceQueryFailed, FailureKind.InvalidData },
    };

    private static PostgresException Pg(string sqlState) =>
        new($"server message with {Password}", "ERROR", "ERROR", sqlState);

    [Theory]
    [MemberData(nameof(QueryFailures))]
    public void Query_failures_are_classified_by_their_cause_and_redacted(Exception cause, string errorId,
        FailureKind kind)
    {
        var connection = Connect($"postgres://u:{Password}@h/db");
        var ex = connection.QueryFailed(cause);
        Assert.Equal((errorId, kind), (ex.ErrorId, ex.Kind));
        Assert.DoesNotContain(Password, ex.Message);
        if (cause is PostgresException pg) Assert.Contains(pg.SqlState, ex.Message);
    }
}
