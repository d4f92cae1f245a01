using LifeOS.Memory.Archival;
using LifeOS.Memory.Mapping;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>Entity extraction beyond MappingTests: limits, boundaries, stop words, positions, tags.</summary>
public class EntityExtractionPureTests
{
    private static IReadOnlyList<EntityMention> Extract(string content, params string[] tags) =>
        EntityExtractor.Extract(content, tags);

    private static string[] Names(string content, params string[] tags) =>
        Extract(content, tags).Select(e => e.Name).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(64)]
    public void Handles_up_to_64_characters_are_taken_whole(int length)
    {
        var handle = new string('a', length - 1) + "9";
        var mention = Assert.Single(Extract("hi @" + handle + " there"));
        Assert.Equal(("@" + handle, "user", "@" + handle, 3), (mention.Name, mention.Type, mention.MentionText,
            mention.Position!.Value));
    }

    [Fact]
    public void A_handle_never_runs_past_64_characters_and_what_follows_is_still_found()
    {
        var content = "@" + new string('b', 100) + "XYZ then $SOL";
        var entities = Extract(content);
        Assert.All(entities.Where(e => e.Type == "user"), e => Assert.True(e.Name.Length <= 65, e.Name));
        Assert.DoesNotContain(entities, e => e.Name == "XYZ"); // the end of the same word is no symbol
        var sol = Assert.Single(entities, e => e.Name == "SOL");
        Assert.Equal(content.IndexOf('$'), sol.Position);
    }

    [Theory]
    [InlineData("@WIF", "token")]
    [InlineData("@Wif", "user")]
    [InlineData("@alice_99", "user")]
    [InlineData("@123", "user")]
    [InlineData("@_", "user")]
    public void Handles_in_upper_case_are_tokens_and_others_are_users(string handle, string type)
    {
        var mention = Assert.Single(Extract("ping " + handle + "!"));
        Assert.Equal((handle, type, handle, 5), (mention.Name, mention.Type, mention.MentionText, mention.Position));
    }

    [Theory]
    [InlineData("mail bob@example.com")]
    [InlineData("a@b")]
    [InlineData("x_@bob")]
    [InlineData("trailing @")]
    [InlineData("@ alone")]
    [InlineData("@-dash")]
    public void An_at_sign_inside_a_word_or_without_a_handle_is_no_mention(string content) =>
        Assert.Empty(Extract(content));

    [Theory]
    [InlineData("#alpha-beta_1 rest", "#alpha-beta_1")]
    [InlineData("#über", "#über")]
    [InlineData("issue #42.", "#42")]
    [InlineData("(#tag)", "#tag")]
    [InlineData("#_x", "#_x")]
    public void Hashtags_take_letters_digits_underscores_and_inner_dashes(string content, string tag)
    {
        var mention = Assert.Single(Extract(content));
        Assert.Equal((tag, "other", tag, content.IndexOf('#')),
            (mention.Name, mention.Type, mention.MentionText, mention.Position));
    }

    [Theory]
    [InlineData("C# and F# are languages")]
    [InlineData("&#35; is an entity")]
    [InlineData("see https://example.com/page/#anchor")]
    [InlineData("##double")]
    [InlineData("#-dash")]
    [InlineData("# heading")]
    [InlineData("ends with #")]
    [InlineData("word#tag")]
    public void A_hash_in_code_entities_urls_or_words_is_no_hashtag(string content) =>
        Assert.Empty(Extract(content));

    [Fact]
    public void A_dollar_ticker_is_named_without_the_dollar_and_mentioned_with_it()
    {
        var mention = Assert.Single(Extract("buy $JUP now"));
        Assert.Equal(("JUP", "token", "$JUP", 4), (mention.Name, mention.Type, mention.MentionText, mention.Position));
    }

    [Fact]
    public void A_ticker_written_with_and_without_dollar_is_one_entity_at_its_first_mention()
    {
        var plainFirst = Assert.Single(Extract("SOL then $SOL"));
        Assert.Equal(("SOL", "SOL", 0), (plainFirst.Name, plainFirst.MentionText, plainFirst.Position));
        var dollarFirst = Assert.Single(Extract("$SOL then SOL"));
        Assert.Equal(("SOL", "$SOL", 0), (dollarFirst.Name, dollarFirst.MentionText, dollarFirst.Position));
    }

    [Theory]
    [InlineData("$sol")]
    [InlineData("$Sol")]
    [InlineData("$AB")]
    [InlineData("$ABCDEFG")]
    [InlineData("$5")]
    [InlineData("$ SOL5")]
    [InlineData("ends with $")]
    public void A_dollar_needs_three_to_six_upper_case_letters_after_it(string content) =>
        Assert.Empty(Extract(content));

    [Theory]
    [InlineData("SOL/USDC", new[] { "SOL", "USDC" })]
    [InlineData("(SOL), SOL's; BONK.", new[] { "SOL", "BONK" })]
    [InlineData("3SOL SOL3 SOL_ _SOL", new string[0])]
    [InlineData("ÄSOL éSOL SOLé Ω", new string[0])]
    [InlineData("ABC-DEF", new[] { "ABC", "DEF" })]
    [InlineData("HelloWORLD WORLDs", new string[0])]
    public void Upper_case_words_are_symbols_only_between_word_boundaries(string content, string[] names) =>
        Assert.Equal(names, Names(content));

    [Theory]
    [InlineData("THE")]
    [InlineData("AND")]
    [InlineData("API")]
    [InlineData("HTTPS")]
    [InlineData("JSON")]
    [InlineData("UTC")]
    [InlineData("USD")]
    [InlineData("TODO")]
    [InlineData("ASAP")]
    [InlineData("GPU")]
    [InlineData("UUID")]
    [InlineData("JAN")]
    [InlineData("FRI")]
    [InlineData("ERROR")]
    [InlineData("NULL")]
    [InlineData("FALSE")]
    public void Common_upper_case_words_are_not_symbols(string word)
    {
        Assert.Empty(Extract("note: " + word + " here"));
        // A real symbol beside it is still found.
        Assert.Equal(new[] { "JUP" }, Names(word + " JUP " + word));
    }

    [Fact]
    public void Symbols_that_are_no_stop_words_are_found_even_when_they_look_like_words()
    {
        Assert.Equal(new[] { "ETH", "NASA", "WAGMI" }, Names("ETH NASA WAGMI"));
    }

    [Fact]
    public void Positions_count_code_points_across_several_surrogate_pairs()
    {
        // Python's indexes: 😀 ␠ $SOL ␠ 🚀 🚀 ␠ #tag ␠ @bob -> $ at 2, # at 10, @ at 15.
        var entities = Extract("\U0001F600 $SOL \U0001F680\U0001F680 #tag @bob");
        Assert.Equal(new[] { ("SOL", 2), ("#tag", 10), ("@bob", 15) },
            entities.Select(e => (e.Name, e.Position!.Value)));
    }

    [Theory]
    [InlineData("\U0001F1FA\U0001F1F8 @bob", 3)] // a flag is two code points (four UTF-16 units)
    [InlineData("e\u0301 @bob", 3)] // a combining accent is a code point of its own
    [InlineData("é @bob", 2)]
    [InlineData("\U0001F680@bob", 1)]
    [InlineData("\U0001F680\U0001F680\U0001F680 SOL", 4)]
    public void Positions_are_python_string_indexes(string content, int position) =>
        Assert.Equal(position, Assert.Single(Extract(content)).Position);

    [Fact]
    public void A_repeated_content_entity_is_listed_once_at_its_first_position()
    {
        var entities = Extract("@bob #a SOL, again @bob #a SOL");
        Assert.Equal(new[] { ("@bob", 0), ("#a", 5), ("SOL", 8) }, entities.Select(e => (e.Name, e.Position!.Value)));
    }

    [Fact]
    public void Repeated_tags_become_one_entity_each_after_the_content_entities()
    {
        var entities = Extract("about @bob", "x", "x", "y", "x");
        Assert.Equal(new[] { "@bob", "#x", "#y" }, entities.Select(e => e.Name));
        Assert.All(entities.Skip(1), e => Assert.Equal(("other", (int?)null), (e.Type, e.Position)));
        Assert.All(entities.Skip(1), e => Assert.Equal(e.Name, e.MentionText));
    }

    [Fact]
    public void A_tag_the_content_already_mentions_is_not_repeated_and_keeps_the_content_position()
    {
        var entities = Extract("see #alpha", "alpha", "beta");
        Assert.Equal(new[] { ("#alpha", (int?)4), ("#beta", null) }, entities.Select(e => (e.Name, e.Position)));
    }

    [Fact]
    public void Tags_are_compared_exactly_and_are_other_entities_than_users_or_tokens()
    {
        var entities = Extract("@bob SOL #Alpha", "bob", "SOL", "alpha");
        Assert.Equal(new[] { ("@bob", "user"), ("SOL", "token"), ("#Alpha", "other"), ("#bob", "other"),
            ("#SOL", "other"), ("#alpha", "other") }, entities.Select(e => (e.Name, e.Type)));
    }

    [Fact]
    public void Metadata_tags_lose_hashes_and_spaces_and_are_deduplicated_after_that()
    {
        var row = new SourceRow
        {
            Id = 1L, Content = "x",
            Metadata = "{\"tags\":[\"##double\",\" # spaced \",\"#\",\"  \",\"double\",\"spaced\",\"#double\"]}",
        };
        var fact = FactMapper.Map(row, DateTime.UtcNow);
        Assert.Equal(new[] { "#double", "#spaced" }, fact.Entities.Select(e => e.Name));
        var fromString = FactMapper.Map(
            new SourceRow { Id = 1L, Content = "x", Metadata = "{\"tags\":\"a,#a, #b,,b \"}" }, DateTime.UtcNow);
        Assert.Equal(new[] { "#a", "#b" }, fromString.Entities.Select(e => e.Name));
    }

    [Fact]
    public void Content_without_any_entity_start_gives_only_the_tags()
    {
        Assert.Empty(Extract(""));
        Assert.Empty(Extract("all lower case, digits 123 and ünïcödé"));
        Assert.Equal(new[] { "#t" }, Names("nothing here", "t"));
    }
}
