// Console checks of the Unity sender, run under Mono by tests/test_unity_sender.py:
//
//   mono P424BridgeTests.exe golden <unity_bridge/golden>   encode every golden case through
//       P424FrameWriter; prints "HEX <case> <hex>" and PASS/FAIL per case and per self-check.
//   mono P424BridgeTests.exe sender                         drive P424TelemetrySender over a stand-in
//       Perrinn424CarController whose telemetry lacks most channels (today's data bus, inputs,
//       transform and wheels provide them); prints "FRAME <hex>" per datagram received on loopback.
//   mono P424BridgeTests.exe telemetry <scenario.tsv>        the same over a stand-in telemetry whose
//       channels, display units, multipliers and raw values the file gives (computing disabled).
//   mono P424BridgeTests.exe units <pairs.tsv>               P424Units.TryConversion for each
//       "written<TAB>stored" line: "UNIT <line> OK <factor, G17>" or "UNIT <line> ERR <message>".
//   mono P424BridgeTests.exe alloc                           bytes the sender's frame loop allocates.
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
        else if (args.Length == 2 && args[0] == "telemetry")
            RunTelemetry(args[1]);
        else if (args.Length == 2 && args[0] == "units")
            RunUnits(args[1]);
        else if (args.Length == 1 && args[0] == "alloc")
            RunAllocation();
        else
        {
            Console.Error.WriteLine("usage: P424BridgeTests.exe golden <dir> | sender | telemetry <file> | units <file> | alloc");
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

    static UdpClient Receiver(out int port)
    {
        UdpClient receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)receiver.Client.LocalEndPoint).Port;
        return receiver;
    }

    static P424TelemetrySender NewSender(VehicleBase car, int port, float rateHz)
    {
        P424TelemetrySender sender = new P424TelemetrySender();
        sender.vehicle = car;
        sender.host = "127.0.0.1";
        sender.port = port;
        sender.rateHz = rateHz;
        sender.carId = 7;
        Time.fixedDeltaTime = 0.02f;
        return sender;
    }

    static void PrintFrames(UdpClient receiver, int expected)
    {
        int received = 0;
        DateTime deadline = DateTime.UtcNow.AddSeconds(3);
        while (received < expected && DateTime.UtcNow < deadline)
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
        Check(received == expected, "datagrams received", received + " of " + expected);
    }

    // A car as today's simulator fills it: controller inputs, custom data bus (newest Perrinn424Data
    // layout), standard input channel, transform, rigidbody, wheel states.
    static Perrinn424CarController BusCar()
    {
        Perrinn424CarController car = new Perrinn424CarController();
        car.TestSetInputs(0.8125f, 0.0625f, -4.75f, 1);

        int[] custom = car.data.Get(Channel.Custom);
        const int F = Perrinn424Data.FrontMguBase, R = Perrinn424Data.RearMguBase;
        // The controller writes its inputs here too, at 1/1000: the sender reads the controller's own.
        custom[Perrinn424Data.ThrottlePosition] = 812;
        custom[Perrinn424Data.BrakePosition] = 62;
        custom[Perrinn424Data.SteeringWheelAngle] = -4750;
        custom[Perrinn424Data.EngagedGear] = 1;
        custom[Perrinn424Data.DrsPosition] = -2147483647;  // the bus's NaN: absent
        custom[Perrinn424Data.FrontDiffFriction] = 12500;
        custom[Perrinn424Data.RearDiffFriction] = -25000;
        custom[Perrinn424Data.FrontRideHeight] = 32;
        custom[Perrinn424Data.RearRideHeight] = 58;
        custom[Perrinn424Data.FrontRollAngle] = 800;
        custom[Perrinn424Data.RearRollAngle] = 900;
        custom[Perrinn424Data.GroundAngle] = 1250;
        custom[Perrinn424Data.GroundSlope] = -22;
        custom[Perrinn424Data.UndersteerAngle] = int.MinValue;  // (int)NaN: both axles airborne
        custom[F + Perrinn424Data.Rpm] = 9000000;  // telemetry's MotorRpmFront wins
        custom[R + Perrinn424Data.Rpm] = 8800500;
        custom[F + Perrinn424Data.Load] = -400;
        custom[R + Perrinn424Data.Load] = -410;
        custom[F + Perrinn424Data.PowerBalanceFeedForward] = 320;
        custom[F + Perrinn424Data.PowerBalance] = 333;
        custom[F + Perrinn424Data.Efficiency] = 930;
        custom[R + Perrinn424Data.Efficiency] = 931;
        custom[F + Perrinn424Data.ElectricalPower] = -150000;  // W
        custom[R + Perrinn424Data.ElectricalPower] = -280000;
        custom[F + Perrinn424Data.MguPower] = -160000;
        custom[R + Perrinn424Data.MguPower] = -300000;
        custom[F + Perrinn424Data.MguTorque] = -180500;
        custom[R + Perrinn424Data.MguTorque] = -361000;
        custom[F + Perrinn424Data.MguStatorTorque] = -181000;
        custom[R + Perrinn424Data.MguStatorTorque] = -362000;
        custom[F + Perrinn424Data.MguRotorTorque] = -178250;
        custom[R + Perrinn424Data.MguRotorTorque] = -357750;
        custom[F + Perrinn424Data.WheelsTorque] = -300000;
        custom[R + Perrinn424Data.WheelsTorque] = -600000;

        int[] input = car.data.Get(Channel.Input);
        input[InputData.Steer] = -347;
        input[InputData.Throttle] = 10000;
        input[InputData.Brake] = 625;
        input[InputData.AutomaticGear] = 4;
        input[InputData.Retarder] = 1;

        car.speed = 70.0f;  // telemetry's Speed wins
        car.localAcceleration = new Vector3(1.5f, 9.5f, -37.75f);
        car.localAngularAcceleration = new Vector3(0.25f, -0.5f, 0.125f);
        car.cachedRigidbody = new Rigidbody();
        car.cachedRigidbody.angularVelocity = new Vector3(0.01f, 0.25f, 0.03f);
        car.cachedTransform = new Transform();
        car.cachedTransform.position = new Vector3(1523.25f, 118.5f, -2210.75f);
        car.cachedTransform.eulerAngles = new Vector3(359.25f, 247.5f, 0.5f);
        car.wheelState = new VehicleBase.WheelState[4];
        float[] omega = { 150.0f, 152.0f, 155.0f, 154.5f };
        float[] torque = { 100.0f, 90.0f, 400.0f, 420.0f };
        float[] camber = { -0.05f, -0.06f, -0.03f, -0.04f };
        for (int i = 0; i < 4; i++)
        {
            VehicleBase.WheelState w = new VehicleBase.WheelState();
            w.angularVelocity = omega[i];
            w.driveTorque = torque[i];
            w.grounded = i != 3;  // RR airborne
            w.slipRatio = -0.08f + 0.01f * i;
            w.slipAngle = 1.0f + i;
            w.wheelContact.camber = camber[i];
            car.wheelState[i] = w;
        }
        return car;
    }

    static void RunSender()
    {
        int port;
        UdpClient receiver = Receiver(out port);

        Perrinn424CarController car = BusCar();
        car.telemetry = new Telemetry();
        // Raw values with the display units and multipliers of today's simulator (see the Python test).
        car.telemetry.AddChannel("Speed", " km/h", 3.6f);
        car.telemetry.AddChannel("MotorRpmFront", " rpm", 1.0f);
        car.telemetry.AddChannel("ElectricalPowerTotal", " kW", 1.0f);
        car.telemetry.AddChannel("BatteryTemperature", " degC", 1.0f);
        car.telemetry.AddChannel("VelocityYaw", "\u00b0/s", (float)(180.0 / Math.PI));
        car.telemetry.AddChannel("TyreTempFL", " \u00b0C", 1.0f);
        car.telemetry.AddChannel("ForceFeedbackForceRatio", " %", 100.0f);
        Telemetry.DataRow row = new Telemetry.DataRow();
        row.values = new[] { 72.25f, 8500.0f, float.NaN, 41.0f, 0.2f, 95.5f, 0.4f };  // NaN: falls back to the data bus
        car.telemetry.latest = row;

        P424TelemetrySender sender = NewSender(car, port, 25.0f);  // physics at 50 Hz: every second step
        sender.channelAliases = new[] { "tyre_temperature_fl=TyreTempFL", "steering_torque=ForceFeedbackForceRatio", "not_an_alias" };

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
        // Speed, MotorRpmFront, ElectricalPowerTotal, BatteryTemperature, VelocityYaw by sim_name,
        // tyre_temperature_fl by alias; the ratio aliased as a torque is refused.
        Check(sender.telemetryChannelsResolved == 6, "telemetry channels resolved", sender.telemetryChannelsResolved.ToString());
        Check(sender.unitErrors == 1, "a channel whose display unit does not convert is refused", sender.unitErrors.ToString());

        sender.StartNewSession();
        Check(sender.sessionId > firstSession && sender.sequence == 0, "new session", sender.sessionId + " after " + firstSession);
        row.frame = 10;
        row.markers = 0;
        sender.FixedUpdateVehicle();
        sender.OnDisableVehicle();
        row.frame = 11;
        sender.FixedUpdateVehicle();  // socket closed: must be a no-op
        Check(sender.framesSent == 8 && sender.sendErrors == 0, "counters", "sent " + sender.framesSent + ", errors " + sender.sendErrors);
        PrintFrames(receiver, 8);
    }

    // Scenario file (UTF-8, tab-separated):
    //   ROW  frame totalTime distance totalDistance segmentNum   the telemetry DataRow header fields
    //   CH   name unitsSuffix displayMultiplier raw            a channel present from the start
    //   LATE name unitsSuffix displayMultiplier raw            a channel registered after the first frame
    static void RunTelemetry(string path)
    {
        int port;
        UdpClient receiver = Receiver(out port);

        VehicleBase car = new VehicleBase();
        car.telemetry = new Telemetry();
        Telemetry.DataRow row = new Telemetry.DataRow();
        List<float> values = new List<float>();
        List<string[]> late = new List<string[]>();
        foreach (string line in File.ReadAllLines(path))
        {
            string[] f = line.Split('\t');
            if (f[0] == "ROW")
            {
                row.frame = int.Parse(f[1], CultureInfo.InvariantCulture);
                row.totalTime = double.Parse(f[2], CultureInfo.InvariantCulture);
                row.distance = double.Parse(f[3], CultureInfo.InvariantCulture);
                row.totalDistance = double.Parse(f[4], CultureInfo.InvariantCulture);
                row.segmentNum = int.Parse(f[5], CultureInfo.InvariantCulture);
            }
            else if (f[0] == "CH")
            {
                car.telemetry.AddChannel(f[1], f[2], float.Parse(f[3], CultureInfo.InvariantCulture));
                values.Add(float.Parse(f[4], CultureInfo.InvariantCulture));
            }
            else if (f[0] == "LATE")
                late.Add(f);
        }
        row.values = values.ToArray();
        row.valuesUpdated = true;
        car.telemetry.latest = row;

        P424TelemetrySender sender = NewSender(car, port, 0.0f);  // a frame every step
        sender.computeMissingChannels = false;  // only what the telemetry gives
        sender.OnEnableVehicle();
        sender.FixedUpdateVehicle();
        int first = sender.telemetryChannelsResolved;

        // A provider registering later (VPP appends its channels): resolved again on the next frame.
        foreach (string[] f in late)
        {
            car.telemetry.AddChannel(f[1], f[2], float.Parse(f[3], CultureInfo.InvariantCulture));
            values.Add(float.Parse(f[4], CultureInfo.InvariantCulture));
        }
        row.values = values.ToArray();
        row.frame++;
        sender.FixedUpdateVehicle();
        Console.WriteLine("RESOLVED " + first + " " + sender.telemetryChannelsResolved);
        Check(sender.unitErrors == 0, "every display unit converts", sender.unitErrors.ToString());
        sender.OnDisableVehicle();
        PrintFrames(receiver, 2);
    }

    static void RunUnits(string path)
    {
        string[] lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            string[] f = lines[i].Split('\t');
            double factor;
            string error;
            if (P424Units.TryConversion(f[0], f[1], out factor, out error))
                Console.WriteLine("UNIT " + i + " OK " + factor.ToString("G17", CultureInfo.InvariantCulture));
            else
                Console.WriteLine("UNIT " + i + " ERR " + error);
        }
        Check(P424Units.Count > 0, "unit table", "empty");
    }

    // The frame loop (telemetry read with conversion, every computed channel, encoding, UDP send)
    // must not allocate: Unity's garbage collector would stall the physics step.
    static void RunAllocation()
    {
        Perrinn424CarController car = BusCar();
        car.telemetry = new Telemetry();
        for (int i = 0; i < P424Catalog.ChannelCount; i += 2)  // half the channels from telemetry, half computed
            if (P424Catalog.SimNames[i] != "")
                car.telemetry.AddChannel(P424Catalog.SimNames[i], "", 1.0f);
        Telemetry.DataRow row = new Telemetry.DataRow();
        row.values = new float[car.telemetry.channels.Count];
        car.telemetry.latest = row;

        int port;
        UdpClient sink = Receiver(out port);  // bound, never read: the kernel drops what overflows
        P424TelemetrySender sender = NewSender(car, port, 0.0f);
        sender.OnEnableVehicle();
        for (int k = 0; k < 100; k++)  // warm-up: first resolution, wheel lookup, JIT
        {
            row.frame = k;
            sender.FixedUpdateVehicle();
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 100; k < 20100; k++)
        {
            row.frame = k;
            row.valuesUpdated = true;
            row.markers = k % 500 == 0 ? 1 << 4 : 0;
            row.values[k % row.values.Length] = k * 0.5f;
            sender.FixedUpdateVehicle();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Console.WriteLine("ALLOCATED " + allocated + " FRAMES " + sender.framesSent);
        Check(allocated == 0 && sender.framesSent >= 20000, "sender frame loop allocates nothing",
              allocated + " bytes over " + sender.framesSent + " frames");
        sender.OnDisableVehicle();
        sink.Close();
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
