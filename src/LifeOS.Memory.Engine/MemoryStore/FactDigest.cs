using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LifeOS.Memory.Mapping;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// The digest of a fact's columns as the module writes them (content, context, timestamp, source, confidence,
/// session). Recorded beside the fact's link when the module writes it, so that "changed in the workspace since"
/// is one digest of the fact as it stands, with no re-derivation from the source.
/// </summary>
internal static class FactDigest
{
    public const int Length = 16;

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;

    /// <summary>The digest of a fact the module is about to write.</summary>
    public static byte[] Of(MappedFact fact) =>
        Of(fact.Content, fact.Context, fact.Timestamp, FactMapper.Source, fact.Confidence, fact.SessionId);

    /// <summary>The digest of a fact's columns as read back (values of any storage class, NULL as null).</summary>
    public static byte[] Of(object? content, object? context, object? timestamp, object? source, object? confidence,
        object? sessionId)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        foreach (var value in new[] { content, context, timestamp, source, sessionId }) AppendText(buffer, value);
        var number = buffer.GetSpan(9);
        number[0] = confidence == null ? (byte)0 : (byte)1;
        var bits = confidence == null ? 0 : BitConverter.DoubleToInt64Bits(
            Convert.ToDouble(confidence, CultureInfo.InvariantCulture));
        BinaryPrimitives.WriteInt64LittleEndian(number[1..], bits);
        buffer.Advance(9);
        Span<byte> full = stackalloc byte[32];
        SHA256.HashData(buffer.WrittenSpan, full);
        return full[..Length].ToArray();
    }

    private static void AppendText(ArrayBufferWriter<byte> buffer, object? value)
    {
        var text = value switch
        {
            null => null,
            string s => s,
            byte[] b => Encoding.UTF8.GetString(b),
            _ => Convert.ToString(value, CultureInfo.InvariantCulture),
        };
        var length = text == null ? 0 : Encoding.UTF8.GetByteCount(text);
        var head = buffer.GetSpan(9);
        head[0] = text == null ? (byte)0 : (byte)1;
        BinaryPrimitives.WriteInt64LittleEndian(head[1..], length);
        buffer.Advance(9);
        if (text == null) return;
        buffer.Advance(Encoding.UTF8.GetBytes(text, buffer.GetSpan(length)));
    }
}
