// Console checks of the Unity sender, run under Mono by tests/test_unity_sender.py:
//
//   mono P424BridgeTests.exe golden <unity_bridge/golden>   encode every golden case through
//       P424FrameWriter; prints "HEX <case> <hex>" and PASS/FAIL per case and per self-check.
//   mono P424BridgeTests.exe sender                         drive P424TelemetrySender over the
//       stand-in vehicle for a scripted run; prints "FRAME <hex>" per datagram received on loopback.
//
// Exit code 0 only when every check passed.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Perrinn424.TelemetryBridge;
using UnityEngine;
using VehiclePhysics;

public static class P424BridgeTests
{
    static int s_failures;

    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "golden")
            RunGolden(args[1]);
        else if (args.Length == 1 && args[0] == "sender")
            RunSender();
        else
        {
            Console.Error.WriteLine("usage: P424BridgeTests.exe golden <dir> | sender");
            return 2;
        }
        Console.WriteLine(s_failures == 0 ? "ALL PASSED" : s_failures + " FAILED");
        return s_failures == 0 ? 0 : 1;
    }

    static void Check(bool ok, string name, string detail)
    {
        if (ok)
            Console.WriteLine("PASS " + name);
        else
        {
            s_failures++;
            Console.WriteLine("FAIL " + name + ": " + detail);
        }
    }

    static string Hex(byte[] data, int length)
    {
        StringBuilder sb = new StringBuilder(2 * length);
        for (int i = 0; i < length; i++)
            sb.Append(data[i].ToString("x2"));
        return sb.ToString();
    }

    // ---------------------------------------------------------------- golden vectors

    static void RunGolden(string dir)
    {
        string[] files = Directory.GetFiles(dir, "*.json");
        Array.Sort(files, StringComparer.Ordinal);
        Check(files.Length > 0, "golden cases found", "no *.json in " + dir);

        // One writer for every case: proves BeginFrame leaves nothing of the previous frame behind.
        P424FrameWriter writer = new P424FrameWriter();
        foreach (string path in files)
        {
            string name = Path.GetFileNameWithoutExtension(path);
            Dictionary<string, object> doc = (Dictionary<string, object>)MiniJson.Parse(File.ReadAllText(path));
            Check((string)doc["catalog_hash"] == P424Catalog.CatalogHash.ToString("x8")
                  && MiniJson.Int(doc["channel_count"]) == P424Catalog.ChannelCount,
                  name + " catalog", "golden json is for catalog " + doc["catalog_hash"] + ", P424Catalog.g.cs is "
                  + P424Catalog.CatalogHash.ToString("x8") + ": rerun python -m unity_bridge.golden_vectors");

            writer.BeginFrame();
            Dictionary<string, object> values = (Dictionary<string, object>)doc["values"];
            List<string> unknown = new List<string>();
            foreach (KeyValuePair<string, object> kv in values)
            {
                int index = Array.IndexOf(P424Catalog.Names, kv.Key);
                if (index >= 0)
                    writer.SetValue(index, (float)MiniJson.Double(kv.Value));
                else
                    unknown.Add(kv.Key);
            }
            Check(unknown.Count == 0, name + " channel names", "not in P424Catalog.Names: " + string.Join(", ", unknown.ToArray()));
            Dictionary<string, object> h = (Dictionary<string, object>)doc["header"];
            bool written = writer.WriteHeader(
                (ushort)MiniJson.Long(h["car_id"]), MiniJson.Long(h["session_id"]), (uint)MiniJson.Long(h["sequence"]),
                MiniJson.Double(h["sim_time"]), (ushort)MiniJson.Long(h["lap"]), MiniJson.Double(h["lap_distance"]),
                (uint)MiniJson.Long(h["markers"]), (byte)MiniJson.Long(h["flags"]));
            Check(written, name + " header", "WriteHeader refused the header");
            Check(writer.PresentCount == values.Count, name + " presence", writer.PresentCount + " present, json has " + values.Count);

            string actual = Hex(writer.Buffer, writer.Length);
            string expected = string.Concat(File.ReadAllText(Path.ChangeExtension(path, ".hex")).Split((char[])null, StringSplitOptions.RemoveEmptyEntries));
            Console.WriteLine("HEX " + name + " " + actual);
            Check(actual == expected, name + " bytes", "\n  expected " + expected + "\n  actual   " + actual);
        }
        WriterSelfChecks();
    }

    static void WriterSelfChecks()
    {
        P424FrameWriter w = new P424FrameWriter();
        Check(w.Length == P424Catalog.FrameSize && w.Length <= P424Catalog.MaxDatagram, "frame size", w.Length.ToString());

        w.SetValue(P424Channel.Speed, 50.0f);
        w.SetValue(P424Channel.Speed, float.NaN);
        w.SetValue(P424Channel.Throttle, float.PositiveInfinity);
        w.SetValue(P424Channel.BrakePressure, float.NegativeInfinity);
        bool valuesZero = true;
        for (int i = P424Catalog.HeaderSize; i < P424Catalog.FrameSize; i++)
            valuesZero &= w.Buffer[i] == 0;
        Check(w.PresentCount == 0 && valuesZero && w.DroppedNonFinite == 2, "non-finite values are absent",
              "present " + w.PresentCount + ", dropped " + w.DroppedNonFinite + ", zeroed " + valuesZero);

        int last = P424Catalog.ChannelCount - 1;
        w.SetValue(last, -1.5f);
        w.SetValue(last, 2.5f);
        Check(w.PresentCount == 1 && w.IsPresent(last), "setting twice counts once", w.PresentCount.ToString());
        w.ClearValue(last);
        Check(w.PresentCount == 0 && !w.IsPresent(last), "ClearValue", w.PresentCount.ToString());

        Check(!w.WriteHeader(1, 0, 0, 0.0, 0, 0.0, 0, 0), "session id 0 refused", "accepted");
        Check(!w.WriteHeader(1, -5, 0, 0.0, 0, 0.0, 0, 0), "negative session id refused", "accepted");
        Check(!w.WriteHeader(1, 1, 0, double.NaN, 0, 0.0, 0, 0), "NaN sim_time refused", "accepted");
        Check(!w.WriteHeader(1, 1, 0, 0.0, 0, double.PositiveInfinity, 0, 0), "infinite lap_distance refused", "accepted");

        bool threw = false;
        try { w.SetValue(P424Catalog.ChannelCount, 1.0f); }
        catch (ArgumentOutOfRangeException) { threw = true; }
        Check(threw, "index out of range throws", "no exception");

        // Allocation-free: a million full frames must not trigger a single nursery collection.
        w.BeginFrame();
        w.WriteHeader(1, 1, 0, 0.0, 0, 0.0, 0, 0);
        int gen0 = GC.CollectionCount(0);
        for (int n = 0; n < 1000000; n++)
        {
            w.BeginFrame();
            for (int i = 0; i < P424Catalog.ChannelCount; i++)
                w.SetValue(i, n * 0.5f + i);
            w.WriteHeader(424, 1, (uint)n, n * 0.02, 1, n * 1.5, 0, 0);
        }
        Check(GC.CollectionCount(0) == gen0, "encoding allocates nothing", (GC.CollectionCount(0) - gen0) + " gen0 collections");
    }

    // ---------------------------------------------------------------- sender over the stand-in vehicle

    static void RunSender()
    {
        UdpClient receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)receiver.Client.LocalEndPoint).Port;

        Perrinn424CarController car = new Perrinn424CarController();
        car.telemetry = new Telemetry();
        foreach (string channel in new[] { "Speed", "MotorRpmFront", "PowerElectricalTotal", "BatteryNetEnergy", "BatteryTemperature" })
            car.telemetry.AddChannel(channel);
        Telemetry.DataRow row = new Telemetry.DataRow();
        row.values = new[] { 72.25f, 8500.0f, float.NaN, 30.5f, 41.0f };  // NaN: falls back to the data bus
        car.telemetry.latest = row;

        int[] custom = car.data.Get(Channel.Custom);
        custom[Perrinn424Data.FrontMguBase + Perrinn424Data.Rpm] = 9000000;  // telemetry's 8500 wins
        custom[Perrinn424Data.RearMguBase + Perrinn424Data.Rpm] = 8800500;
        custom[Perrinn424Data.FrontMguBase + Perrinn424Data.ElectricalPower] = -150000;
        custom[Perrinn424Data.RearMguBase + Perrinn424Data.ElectricalPower] = -280000;
        custom[Perrinn424Data.FrontMguBase + Perrinn424Data.Efficiency] = 930;
        custom[Perrinn424Data.RearMguBase + Perrinn424Data.Efficiency] = 931;
        custom[Perrinn424Data.FrontMguBase + Perrinn424Data.MechanicalTorque] = -180500;
        custom[Perrinn424Data.RearMguBase + Perrinn424Data.MechanicalTorque] = -361000;
        custom[Perrinn424Data.FrontMguBase + Perrinn424Data.RotorTorque] = -178250;
        custom[Perrinn424Data.RearMguBase + Perrinn424Data.RotorTorque] = -357750;
        custom[Perrinn424Data.ThrottleInput] = 0;
        custom[Perrinn424Data.BrakePressure] = 85500;
        custom[Perrinn424Data.SteeringWheelAngle] = -4750;
        custom[Perrinn424Data.DrsPosition] = -2147483647;  // the bus's NaN: absent
        custom[Perrinn424Data.FrontRideHeight] = 32;
        custom[Perrinn424Data.RearRideHeight] = 58;
        custom[Perrinn424Data.FrontRollAngle] = 800;
        custom[Perrinn424Data.RearRollAngle] = 900;
        car.data.Get(Channel.Vehicle)[VehicleData.GearboxGear] = 1;
        car.speed = 70.0f;  // telemetry's Speed wins
        car.localAcceleration = new Vector3(1.5f, 9.5f, -37.75f);
        car.localAngularAcceleration = new Vector3(0.25f, -0.5f, 0.125f);
        car.cachedRigidbody = new Rigidbody();
        car.cachedRigidbody.angularVelocity = new Vector3(0.01f, 0.2f, 0.03f);
        car.wheelState = new VehicleBase.WheelState[4];
        for (int i = 0; i < 4; i++)
            car.wheelState[i] = new VehicleBase.WheelState { slipRatio = -0.08f + 0.01f * i, slipAngle = 1.0f + i };

        P424TelemetrySender sender = new P424TelemetrySender();
        sender.vehicle = car;
        sender.host = "127.0.0.1";
        sender.port = port;
        sender.rateHz = 25.0f;  // physics at 50 Hz: every second step
        sender.carId = 7;
        sender.channelAliases = new[] { "battery_energy=BatteryNetEnergy", "not_an_alias" };
        Time.fixedDeltaTime = 0.02f;

        sender.OnEnableVehicle();
        Check(sender.enabled, "sender enabled", "OnEnableVehicle disabled the component");
        long firstSession = sender.sessionId;
        for (int k = 0; k < 10; k++)
        {
            row.frame = k;
            row.valuesUpdated = true;
            row.totalTime = (k + 1) * 0.02;
            row.distance = 100 + k;
            row.totalDistance = 5000 + k;
            row.segmentNum = k < 5 ? 3 : 4;
            row.markers = k == 5 ? 1 << 3 : k == 7 ? (1 << 4) | (1 << 16) : 0;
            sender.FixedUpdateVehicle();
        }
        // Speed, MotorRpmFront, PowerElectricalTotal, BatteryTemperature by sim_name, battery_energy by alias.
        Check(sender.telemetryChannelsResolved == 5, "telemetry channels resolved", sender.telemetryChannelsResolved.ToString());

        sender.StartNewSession();
        Check(sender.sessionId > firstSession && sender.sequence == 0, "new session", sender.sessionId + " after " + firstSession);
        row.frame = 10;
        row.markers = 0;
        sender.FixedUpdateVehicle();
        sender.OnDisableVehicle();
        row.frame = 11;
        sender.FixedUpdateVehicle();  // socket closed: must be a no-op
        Check(sender.framesSent == 8 && sender.sendErrors == 0, "counters", "sent " + sender.framesSent + ", errors " + sender.sendErrors);

        int received = 0;
        DateTime deadline = DateTime.UtcNow.AddSeconds(3);
        while (received < 8 && DateTime.UtcNow < deadline)
        {
            if (receiver.Client.Poll(100000, SelectMode.SelectRead))
            {
                IPEndPoint from = null;
                byte[] datagram = receiver.Receive(ref from);
                Console.WriteLine("FRAME " + Hex(datagram, datagram.Length));
                received++;
            }
        }
        receiver.Close();
        Check(received == 8, "datagrams received", received.ToString());
    }
}

// Just enough JSON for the golden files: objects, arrays, strings, numbers (kept as text so
// int64 and float64 values convert exactly), true/false/null.
public static class MiniJson
{
    public sealed class Number
    {
        public readonly string Text;
        public Number(string text) { Text = text; }
    }

    public static object Parse(string text)
    {
        int i = 0;
        object value = ParseValue(text, ref i);
        SkipSpace(text, ref i);
        if (i != text.Length)
            throw new FormatException("trailing characters at " + i);
        return value;
    }

    public static long Long(object v) { return long.Parse(((Number)v).Text, NumberStyles.Integer, CultureInfo.InvariantCulture); }
    public static int Int(object v) { return (int)Long(v); }
    public static double Double(object v) { return double.Parse(((Number)v).Text, NumberStyles.Float, CultureInfo.InvariantCulture); }

    static void SkipSpace(string s, ref int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i]))
            i++;
    }

    static object ParseValue(string s, ref int i)
    {
        SkipSpace(s, ref i);
        char c = s[i];
        if (c == '{')
        {
            Dictionary<string, object> obj = new Dictionary<string, object>();
            i++;
            SkipSpace(s, ref i);
            if (s[i] == '}') { i++; return obj; }
            while (true)
            {
                SkipSpace(s, ref i);
                string key = ParseString(s, ref i);
                SkipSpace(s, ref i);
                Expect(s, ref i, ':');
                obj[key] = ParseValue(s, ref i);
                SkipSpace(s, ref i);
                if (s[i] == ',') { i++; continue; }
                Expect(s, ref i, '}');
                return obj;
            }
        }
        if (c == '[')
        {
            List<object> list = new List<object>();
            i++;
            SkipSpace(s, ref i);
            if (s[i] == ']') { i++; return list; }
            while (true)
            {
                list.Add(ParseValue(s, ref i));
                SkipSpace(s, ref i);
                if (s[i] == ',') { i++; continue; }
                Expect(s, ref i, ']');
                return list;
            }
        }
        if (c == '"')
            return ParseString(s, ref i);
        if (string.CompareOrdinal(s, i, "true", 0, 4) == 0) { i += 4; return true; }
        if (string.CompareOrdinal(s, i, "false", 0, 5) == 0) { i += 5; return false; }
        if (string.CompareOrdinal(s, i, "null", 0, 4) == 0) { i += 4; return null; }
        int start = i;
        while (i < s.Length && "+-0123456789.eE".IndexOf(s[i]) >= 0)
            i++;
        if (i == start)
            throw new FormatException("unexpected '" + c + "' at " + i);
        return new Number(s.Substring(start, i - start));
    }

    static string ParseString(string s, ref int i)
    {
        Expect(s, ref i, '"');
        StringBuilder sb = new StringBuilder();
        while (s[i] != '"')
        {
            char c = s[i++];
            if (c != '\\') { sb.Append(c); continue; }
            char e = s[i++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'u': sb.Append((char)Convert.ToInt32(s.Substring(i, 4), 16)); i += 4; break;
                default: sb.Append(e); break;  // \" \\ \/
            }
        }
        i++;
        return sb.ToString();
    }

    static void Expect(string s, ref int i, char c)
    {
        if (i >= s.Length || s[i] != c)
            throw new FormatException("expected '" + c + "' at " + i);
        i++;
    }
}
