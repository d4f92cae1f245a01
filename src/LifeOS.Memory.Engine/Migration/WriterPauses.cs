using System.Diagnostics;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// Lets other programs write between the module's transactions: after holding the write lock for a budget, a
/// writer of the module waits <see cref="Pause"/> before its next transaction.
/// </summary>
internal sealed class WriterPauses
{
    // Another program's write waits at most about the hold budget + Pause: the assistant's SQLite client
    // retries a busy write every 100 ms (after its first few quicker retries), so a pause longer than that
    // always lets one retry in, and the budget bounds how long it can wait for the next pause. While another
    // program has written recently the budget is short (its next writes are likely waiting); when none has,
    // a longer one still lets a first write in within a second and costs the migration half the pauses.
    private static readonly TimeSpan ActiveBudget = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan QuietBudget = TimeSpan.FromMilliseconds(600);
    private static readonly TimeSpan ActiveFor = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(110);

    private readonly Store _store;
    private readonly MigrationResult? _result;
    private readonly bool _watchOthers;
    private TimeSpan _heldSincePause;
    private TimeSpan _lastHold;
    private long _dataVersion = -1;
    private long _lastForeignWrite = long.MinValue;

    /// <param name="watchOthers">
    /// True for a migration's batches: the budget follows whether another program wrote lately, a transaction is
    /// judged by the last one, and the pause checkpoints the WAL. False for the layer repairs: the short budget
    /// always, judged by what was held.
    /// </param>
    public WriterPauses(Store store, MigrationResult? result, bool watchOthers)
    {
        _store = store;
        _result = result;
        _watchOthers = watchOthers;
    }

    /// <summary>
    /// Called before a transaction: when it (judged by the last one) would take the time held since the last pause
    /// past the budget, waits <see cref="Pause"/> first (the run's other stages go on meanwhile).
    /// </summary>
    public void BeforeTransaction()
    {
        if (!_watchOthers)
        {
            if (_heldSincePause < ActiveBudget) return;
            Thread.Sleep(Pause);
            _heldSincePause = TimeSpan.Zero;
            return;
        }
        // data_version changes when another connection commits: the assistant wrote since the last look.
        var version = _store.DataVersion();
        if (_dataVersion >= 0 && version != _dataVersion) _lastForeignWrite = Stopwatch.GetTimestamp();
        _dataVersion = version;
        var active = _lastForeignWrite != long.MinValue && Stopwatch.GetElapsedTime(_lastForeignWrite) < ActiveFor;
        if (_heldSincePause + _lastHold < (active ? ActiveBudget : QuietBudget)) return;
        // The pause also copies the WAL into the database (a passive checkpoint takes no write lock): left to
        // grow, it is the other program's commit that would copy it, inside its own insert's time.
        var started = Stopwatch.GetTimestamp();
        _store.CheckpointPassive();
        var rest = Pause - Stopwatch.GetElapsedTime(started);
        if (rest > TimeSpan.Zero) Thread.Sleep(rest);
        _heldSincePause = TimeSpan.Zero;
    }

    /// <summary>Counts a transaction's hold of the write lock (and the run's longest).</summary>
    public void Held(TimeSpan held)
    {
        _heldSincePause += held;
        _lastHold = held;
        if (_result != null && held > _result.LongestWriteLock) _result.LongestWriteLock = held;
    }
}
