using System.Buffers.Binary;
using System.Text;

namespace LifeOS.Memory.Tests.PowerCut;

/// <summary>What the shim (powercut_shim.c) recorded, one event per changing or syncing call, in order.</summary>
internal enum PowerCutOp
{
    Create = 1, Write, Truncate, Fsync, SyncAll, Rename, Unlink, Mkdir, Mark, Rmdir, Unsupported,
}

internal sealed record PowerCutEvent(PowerCutOp Op, string Path, string Path2, long Offset, byte[] Data);

/// <summary>
/// The file system a power cut leaves, rebuilt from a recording. The rules, deliberately harsher than ext4's
/// ordered mode (which the module must not count on):
/// <list type="bullet">
/// <item>Data. A file's changes (writes, truncations) are durable up to its last fsync/fdatasync or the last
/// syncfs/sync. Of the changes after that, a cut keeps any prefix, in order (none, some, all), and the last change
/// kept may itself be cut to any prefix of its bytes (a torn write).</item>
/// <item>Names. A folder's entries (files created, folders made, unlinks, renames within it) are durable up to the
/// last fsync of that folder or the last syncfs/sync; an fsync of a file does not make its name durable. Of the
/// later ones a cut keeps any prefix. A file or folder whose parent folder is not kept is gone with it.</item>
/// <item>Each file and folder decides independently. A -shm file is left out: SQLite rebuilds it from the
/// WAL when the first connection opens the database.</item>
/// </list>
/// </summary>
internal sealed class PowerCutReplay
{
    private readonly string _root;
    private readonly string _parent;
    private readonly List<PowerCutEvent> _events;
    private readonly Dictionary<string, byte[]> _initialFiles = new(StringComparer.Ordinal);
    private readonly HashSet<string> _initialFolders = new(StringComparer.Ordinal);

    /// <param name="root">The recorded workspace; what it holds now is taken as its durable state before the run
    /// when <paramref name="snapshot"/> is given, else it did not exist.</param>
    public PowerCutReplay(string root, string recordPath, Dictionary<string, byte[]>? snapshot = null,
        IEnumerable<string>? snapshotFolders = null)
    {
        _root = root;
        _parent = Path.GetDirectoryName(root)!;
        _events = Read(recordPath);
        if (snapshot != null) foreach (var (path, bytes) in snapshot) _initialFiles[path] = bytes;
        if (snapshotFolders != null) _initialFolders.UnionWith(snapshotFolders);
    }

    public IReadOnlyList<PowerCutEvent> Events => _events;

    /// <summary>Index of the event the runner's mark made: everything before it happened before the return.</summary>
    public int ReturnIndex => _events.FindIndex(e => e.Op == PowerCutOp.Mark);

    /// <summary>Takes the durable state of a workspace as it is now (before a recorded run).</summary>
    public static (Dictionary<string, byte[]> Files, List<string> Folders) Snapshot(string root)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var folders = new List<string>();
        if (!Directory.Exists(root)) return (files, folders);
        folders.Add(root);
        foreach (var dir in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories)) folders.Add(dir);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            if (!file.EndsWith("-shm", StringComparison.Ordinal)) files[file] = File.ReadAllBytes(file);
        return (files, folders);
    }

    private static List<PowerCutEvent> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<PowerCutEvent>();
        var at = 0;
        while (at < bytes.Length)
        {
            var span = bytes.AsSpan(at);
            var op = (PowerCutOp)BinaryPrimitives.ReadUInt32LittleEndian(span);
            var pathLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[4..]);
            var path2Length = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
            var offset = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
            var length = BinaryPrimitives.ReadInt64LittleEndian(span[24..]);
            at += 32;
            var p = Encoding.UTF8.GetString(bytes, at, pathLength);
            at += pathLength;
            var p2 = Encoding.UTF8.GetString(bytes, at, path2Length);
            at += path2Length;
            var data = Array.Empty<byte>();
            if (op == PowerCutOp.Write)
            {
                data = bytes.AsSpan(at, (int)length).ToArray();
                at += (int)length;
            }
            events.Add(new PowerCutEvent(op, p, p2, offset, data));
        }
        return events;
    }

    private sealed class Node
    {
        public bool IsFolder;
        public byte[] Initial = Array.Empty<byte>();
        public readonly List<PowerCutEvent> Changes = new();
        public int Synced;
    }

    private sealed class Folder
    {
        public readonly List<(int Index, PowerCutEvent Event, int Node)> Entries = new();
        public int Synced;
    }

    /// <summary>
    /// Writes the workspace as a cut just before event <paramref name="cut"/> leaves it (its root mapped to
    /// <paramref name="target"/>); <paramref name="random"/> decides what of the unsynced changes survived, null
    /// keeps them all (the state the recorded process saw).
    /// </summary>
    public void Materialize(int cut, Random? random, string target)
    {
        var nodes = new List<Node>();
        var live = new Dictionary<string, int>(StringComparer.Ordinal);
        var folders = new Dictionary<string, Folder>(StringComparer.Ordinal);
        int NewNode(bool folder, byte[]? initial = null)
        {
            nodes.Add(new Node { IsFolder = folder, Initial = initial ?? Array.Empty<byte>() });
            return nodes.Count - 1;
        }
        Folder FolderOf(string path) =>
            folders.TryGetValue(path, out var f) ? f : folders[path] = new Folder();
        live[_parent] = NewNode(folder: true);
        foreach (var dir in _initialFolders) live[dir] = NewNode(folder: true);
        foreach (var (path, bytes) in _initialFiles) live[path] = NewNode(folder: false, bytes);
        var initial = new Dictionary<string, int>(live, StringComparer.Ordinal);

        for (var i = 0; i < cut; i++)
        {
            var e = _events[i];
            switch (e.Op)
            {
                case PowerCutOp.Create:
                case PowerCutOp.Mkdir:
                    var created = NewNode(e.Op == PowerCutOp.Mkdir);
                    live[e.Path] = created;
                    FolderOf(Parent(e.Path)).Entries.Add((i, e, created));
                    break;
                case PowerCutOp.Write:
                case PowerCutOp.Truncate:
                    nodes[NodeAt(live, e.Path, e)].Changes.Add(e);
                    break;
                case PowerCutOp.Fsync:
                    var synced = nodes[NodeAt(live, e.Path, e)];
                    if (synced.IsFolder) FolderOf(e.Path).Synced = FolderOf(e.Path).Entries.Count;
                    else synced.Synced = synced.Changes.Count;
                    break;
                case PowerCutOp.SyncAll:
                    foreach (var n in nodes) n.Synced = n.Changes.Count;
                    foreach (var f in folders.Values) f.Synced = f.Entries.Count;
                    break;
                case PowerCutOp.Unlink:
                case PowerCutOp.Rmdir:
                    FolderOf(Parent(e.Path)).Entries.Add((i, e, NodeAt(live, e.Path, e)));
                    live.Remove(e.Path);
                    break;
                case PowerCutOp.Rename:
                    if (Parent(e.Path) != Parent(e.Path2))
                        throw new NotSupportedException($"a rename across folders is not modelled: {e.Path}");
                    var moved = NodeAt(live, e.Path, e);
                    FolderOf(Parent(e.Path)).Entries.Add((i, e, moved));
                    live.Remove(e.Path);
                    live[e.Path2] = moved;
                    break;
                case PowerCutOp.Mark:
                    break;
                default:
                    throw new NotSupportedException($"the replay does not model {e.Path2} on {e.Path}");
            }
        }

        // Names: each folder's durable entries and a prefix of the rest, applied in the order they happened.
        var kept = new List<(int Index, PowerCutEvent Event, int Node)>();
        foreach (var f in folders.Values)
            kept.AddRange(f.Entries.Take(random == null ? f.Entries.Count
                : f.Synced + random.Next(f.Entries.Count - f.Synced + 1)));
        var names = new Dictionary<string, int>(initial, StringComparer.Ordinal);
        foreach (var (_, e, node) in kept.OrderBy(k => k.Index))
        {
            switch (e.Op)
            {
                case PowerCutOp.Create or PowerCutOp.Mkdir: names[e.Path] = node; break;
                case PowerCutOp.Unlink or PowerCutOp.Rmdir: names.Remove(e.Path); break;
                default:
                    if (names.Remove(e.Path)) names[e.Path2] = node;
                    break;
            }
        }

        if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
        foreach (var (path, id) in names.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (path == _parent || !Reachable(names, path)) continue;
            var mapped = target + path[_root.Length..];
            if (nodes[id].IsFolder)
            {
                Directory.CreateDirectory(mapped);
                continue;
            }
            if (path.EndsWith("-shm", StringComparison.Ordinal)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(mapped)!);
            File.WriteAllBytes(mapped, Content(nodes[id], random));
            File.SetUnixFileMode(mapped, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private bool Reachable(Dictionary<string, int> names, string path)
    {
        if (!path.StartsWith(_root, StringComparison.Ordinal)) return false;
        for (var p = Parent(path); p != _parent; p = Parent(p))
            if (!names.ContainsKey(p)) return false;
        return true;
    }

    private static byte[] Content(Node node, Random? random)
    {
        var count = random == null ? node.Changes.Count
            : node.Synced + random.Next(node.Changes.Count - node.Synced + 1);
        var content = new MemoryStream();
        content.Write(node.Initial);
        for (var i = 0; i < count; i++)
        {
            var change = node.Changes[i];
            if (change.Op == PowerCutOp.Truncate)
            {
                content.SetLength(change.Offset);
                continue;
            }
            var data = change.Data;
            // The last unsynced write kept may be torn anywhere.
            if (random != null && i == count - 1 && i >= node.Synced && random.Next(3) == 0)
                data = data[..random.Next(data.Length + 1)];
            if (content.Length < change.Offset) content.SetLength(change.Offset);
            content.Position = change.Offset;
            content.Write(data);
        }
        return content.ToArray();
    }

    private static int NodeAt(Dictionary<string, int> live, string path, PowerCutEvent e) =>
        live.TryGetValue(path, out var id) ? id
            : throw new InvalidOperationException($"{e.Op} on {path}, which the recording never created");

    private static string Parent(string path) => Path.GetDirectoryName(path)!;
}
