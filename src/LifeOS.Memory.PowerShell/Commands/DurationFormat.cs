using System.Globalization;

namespace LifeOS.Memory.Commands;

/// <summary>
/// The one way the module shows a duration, in its views and its messages: [d.]hh:mm:ss.f, for example 00:01:23.4.
/// Public so that LifeOS.Memory.Format.ps1xml calls it too.
/// </summary>
public static class DurationFormat
{
    public static string Format(TimeSpan duration)
    {
        // Tenths, rounded, so that 59.96 s reads 00:01:00.0 and not 00:00:59.9 (or 00:00:60.0).
        const long ticksPerTenth = TimeSpan.TicksPerSecond / 10;
        var tenths = Math.Round(duration.Ticks / (double)TimeSpan.TicksPerSecond * 10, MidpointRounding.AwayFromZero);
        var rounded = TimeSpan.FromTicks((long)tenths * ticksPerTenth);
        return rounded.Days > 0 ? rounded.ToString(@"d\.hh\:mm\:ss\.f", CultureInfo.InvariantCulture)
            : rounded.ToString(@"hh\:mm\:ss\.f", CultureInfo.InvariantCulture);
    }
}
