// Streams the PERRINN 424 simulator's telemetry to the telemetry platform as protocol-v1 UDP
// frames (unity_bridge/PROTOCOL.md). Add it to the vehicle GameObject (the one holding
// Perrinn424CarController); see unity_bridge/unity/README.md.
//
// Source of each channel, in order:
//  1. the VPP telemetry channel named like the catalog's sim_name (what the lap files record),
//     or an alias from channelAliases;
//  2. otherwise a value computed from the vehicle: the VPP data bus (Perrinn424Data custom channels,
//     VehicleData), wheel states, accelerations (ISO 8855, like the simulator's motion output);
//  3. otherwise the channel is absent from the frame.
// The frame loop allocates nothing; lookups are resolved when the telemetry channel list changes.

namespace Perrinn424.TelemetryBridge
{
    // Inside the namespace so VPP's Telemetry wins over any Perrinn424.* namespace of the project.
    using System;
    using System.Net;
    using System.Net.Sockets;
    using UnityEngine;
    using VehiclePhysics;

    public class P424TelemetrySender : VehicleBehaviour
    {
        [Header("Destination (the platform's unity-bridge)")]
        public string host = "127.0.0.1";
        public int port = 20424;

        [Header("Rate")]
        [Tooltip("Frames per second, rounded to a whole number of physics steps. 0 sends one frame per physics step.")]
        [Range(0, 500)]
        public float rateHz = 50.0f;
        [Tooltip("Send a frame at once when a telemetry marker (lap start, sector, reset...) arrives, so lap boundaries are exact.")]
        public bool sendOnMarkers = true;

        [Header("Identity")]
        [Tooltip("Car id on the wire (0-65535): tells cars apart when several simulators send to one platform.")]
        public int carId = 1;
        [Tooltip("Start a new session (new id, sequence 0) when the simulator resets the telemetry time.")]
        public bool newSessionOnTimeReset = false;

        [Header("Channel mapping")]
        [Tooltip("Extra sources as catalog_name=TelemetryChannel, e.g. battery_energy=BatteryNetEnergy.")]
        public string[] channelAliases = new string[0];
        [Tooltip("Compute channels the telemetry lacks from the data bus, wheels and rigidbody.")]
        public bool computeMissingChannels = true;

        // Diagnostics, visible in the inspector's Debug mode.
        public long sessionId { get { return m_sessionId; } }
        public uint sequence { get { return m_sequence; } }
        public long framesSent { get { return m_framesSent; } }
        public long sendErrors { get { return m_sendErrors; } }
        public int telemetryChannelsResolved { get { return m_resolved; } }

        // Telemetry.Marker bits (PROTOCOL.md "markers").
        const uint TimeResetMarker = 1u << 0;
        const uint StartLineMarker = 1u << 3;
        const uint SectorLineMarker = 1u << 4;

        const int BusNaN = -2147483647;  // how the VPP data bus stores NaN; int.MinValue is treated alike

        static long s_lastSessionId;

        readonly P424FrameWriter m_writer = new P424FrameWriter();
        readonly int[] m_telemetryIndex = new int[P424Catalog.ChannelCount];
        string[] m_lookupNames;
        Socket m_socket;
        int m_lastChannelCount = -1;
        int m_resolved;
        int m_lastRowFrame = int.MinValue;
        uint m_pendingMarkers;
        int m_sector;
        int m_stepsSinceFrame;
        double m_clockWithoutTelemetry;
        long m_sessionId;
        uint m_sequence;
        long m_framesSent;
        long m_sendErrors;
        bool m_isPerrinn424;
        VehicleBase.WheelState[] m_wheels;  // FL, FR, RL, RR

        public override int GetUpdateOrder()
        {
            // After the vehicle's own components and the simulator's telemetry providers.
            return 200;
        }

        public override void OnEnableVehicle()
        {
            m_lookupNames = BuildLookupNames(channelAliases);
            m_lastChannelCount = -1;
            m_isPerrinn424 = vehicle is Perrinn424CarController;
            m_wheels = null;
            StartNewSession();
            try
            {
                IPEndPoint destination = new IPEndPoint(ResolveHost(host), port);
                m_socket = new Socket(destination.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                // Never stall the physics step; a connected socket avoids per-send address handling.
                m_socket.Blocking = false;
                m_socket.Connect(destination);
                Debug.Log("P424TelemetrySender: protocol v" + P424Catalog.ProtocolVersion + ", catalog "
                          + P424Catalog.CatalogHash.ToString("x8") + ", " + P424Catalog.ChannelCount
                          + " channels -> " + destination + " at " + (rateHz > 0 ? rateHz + " Hz" : "physics rate"));
            }
            catch (Exception ex)
            {
                Debug.LogWarning("P424TelemetrySender: cannot send to " + host + ":" + port + " (" + ex.Message + "). Component disabled.");
                CloseSocket();
                enabled = false;
            }
        }

        public override void OnDisableVehicle()
        {
            CloseSocket();
        }

        /// <summary>A new session id (microseconds since the Unix epoch, unique in this process) and sequence 0.</summary>
        public void StartNewSession()
        {
            long id = (DateTime.UtcNow.Ticks - 621355968000000000L) / 10;
            if (id <= s_lastSessionId)
                id = s_lastSessionId + 1;
            s_lastSessionId = id;
            m_sessionId = id;
            m_sequence = 0;
            m_sector = 0;
            m_pendingMarkers = 0;
            m_stepsSinceFrame = int.MaxValue - 1;  // the first step sends
            m_clockWithoutTelemetry = 0.0;
        }

        public override void FixedUpdateVehicle()
        {
            if (m_socket == null)
                return;
            Telemetry telemetry = vehicle.telemetry;
            Telemetry.DataRow row = telemetry != null ? telemetry.latest : null;
            if (row != null && row.frame != m_lastRowFrame)
            {
                m_lastRowFrame = row.frame;
                // Markers arrive once, in a row with updated values; keep them for the next frame sent.
                if (row.valuesUpdated && row.markers != 0)
                    OnMarkers((uint)row.markers);
            }
            m_clockWithoutTelemetry += Time.fixedDeltaTime;

            // Count physics steps rather than summing float time steps, which drifts and skips frames.
            m_stepsSinceFrame++;
            bool due = m_stepsSinceFrame >= StepsPerFrame();
            if (!due && !(sendOnMarkers && m_pendingMarkers != 0))
                return;
            if (due)
                m_stepsSinceFrame = 0;
            SendFrame(telemetry, row);
        }

        int StepsPerFrame()
        {
            if (rateHz <= 0 || Time.fixedDeltaTime <= 0)
                return 1;
            return Mathf.Max(1, Mathf.RoundToInt(1.0f / (rateHz * Time.fixedDeltaTime)));
        }

        void OnMarkers(uint markers)
        {
            if ((markers & TimeResetMarker) != 0 && newSessionOnTimeReset)
                StartNewSession();
            if ((markers & StartLineMarker) != 0)
                m_sector = 0;
            else if ((markers & SectorLineMarker) != 0)
                m_sector++;
            m_pendingMarkers |= markers;
        }

        void SendFrame(Telemetry telemetry, Telemetry.DataRow row)
        {
            if (telemetry != null && telemetry.channels.Count != m_lastChannelCount)
                ResolveTelemetryChannels(telemetry);

            m_writer.BeginFrame();
            float[] values = row != null ? row.values : null;
            int[] custom = vehicle.data != null ? vehicle.data.Get(Channel.Custom) : null;
            int[] vehicleData = vehicle.data != null ? vehicle.data.Get(Channel.Vehicle) : null;
            for (int i = 0; i < P424Catalog.ChannelCount; i++)
            {
                float v = float.NaN;
                int t = m_telemetryIndex[i];
                if (values != null && t >= 0 && t < values.Length)
                    v = values[t];
                if (float.IsNaN(v) && computeMissingChannels)
                    v = Compute(i, row, custom, vehicleData);
                m_writer.SetValue(i, v);
            }

            double simTime = row != null ? row.totalTime : m_clockWithoutTelemetry;
            int lap = row != null ? row.segmentNum : 0;
            double lapDistance = row != null ? row.distance : 0.0;
            ushort car = (ushort)Mathf.Clamp(carId, 0, 65535);
            if (!m_writer.WriteHeader(car, m_sessionId, m_sequence, simTime, (ushort)Mathf.Clamp(lap, 0, 65535),
                                      lapDistance, m_pendingMarkers, 0))
            {
                m_sendErrors++;
                return;
            }
            SocketError error;
            m_socket.Send(m_writer.Buffer, 0, m_writer.Length, SocketFlags.None, out error);
            // A missing receiver shows up as ConnectionRefused/Reset on a connected UDP socket: count, keep going.
            if (error == SocketError.Success)
                m_framesSent++;
            else
                m_sendErrors++;
            m_pendingMarkers = 0;
            unchecked { m_sequence++; }  // wraps at 2^32 as the protocol specifies
        }

        void ResolveTelemetryChannels(Telemetry telemetry)
        {
            m_lastChannelCount = telemetry.channels.Count;
            m_resolved = 0;
            for (int i = 0; i < P424Catalog.ChannelCount; i++)
            {
                string name = m_lookupNames[i];
                m_telemetryIndex[i] = string.IsNullOrEmpty(name) ? -1 : telemetry.GetChannelIndex(name);
                if (m_telemetryIndex[i] >= 0)
                    m_resolved++;
            }
        }

        /// <summary>The telemetry channel to read for each payload channel: its sim_name unless aliased.</summary>
        static string[] BuildLookupNames(string[] aliases)
        {
            string[] names = (string[])P424Catalog.SimNames.Clone();
            if (aliases == null)
                return names;
            foreach (string alias in aliases)
            {
                int eq = alias != null ? alias.IndexOf('=') : -1;
                int index = eq > 0 ? Array.IndexOf(P424Catalog.Names, alias.Substring(0, eq).Trim()) : -1;
                if (index < 0)
                {
                    Debug.LogWarning("P424TelemetrySender: ignoring alias '" + alias + "' (expected catalog_name=TelemetryChannel)");
                    continue;
                }
                names[index] = alias.Substring(eq + 1).Trim();
            }
            return names;
        }

        // Values for channels the telemetry does not carry. NaN = not available.
        float Compute(int index, Telemetry.DataRow row, int[] custom, int[] vehicleData)
        {
            bool bus = m_isPerrinn424 && custom != null;
            switch (index)
            {
                case P424Channel.Sector: return m_sector;
                case P424Channel.TotalDistance: return row != null ? (float)row.totalDistance : float.NaN;
                case P424Channel.Speed: return vehicle.speed;
                case P424Channel.Gear: return vehicleData != null ? Bus(vehicleData, VehicleData.GearboxGear, 1.0f) : float.NaN;

                // Perrinn424CarController fills these custom data bus channels every step (resolution 1/1000).
                case P424Channel.MotorRpmFront: return bus ? Mgu(custom, Perrinn424Data.FrontMguBase, Perrinn424Data.Rpm) : float.NaN;
                case P424Channel.MotorRpmRear: return bus ? Mgu(custom, Perrinn424Data.RearMguBase, Perrinn424Data.Rpm) : float.NaN;
                case P424Channel.PowerElectricalFront: return bus ? Mgu(custom, Perrinn424Data.FrontMguBase, Perrinn424Data.ElectricalPower) : float.NaN;
                case P424Channel.PowerElectricalRear: return bus ? Mgu(custom, Perrinn424Data.RearMguBase, Perrinn424Data.ElectricalPower) : float.NaN;
                case P424Channel.PowerElectricalTotal:
                    return bus ? Mgu(custom, Perrinn424Data.FrontMguBase, Perrinn424Data.ElectricalPower)
                                 + Mgu(custom, Perrinn424Data.RearMguBase, Perrinn424Data.ElectricalPower) : float.NaN;
                case P424Channel.PowerBalance:
                    return bus ? Balance(Mgu(custom, Perrinn424Data.FrontMguBase, Perrinn424Data.ElectricalPower),
                                         Mgu(custom, Perrinn424Data.RearMguBase, Perrinn424Data.ElectricalPower)) : float.NaN;
                case P424Channel.EfficiencyFront: return bus ? Mgu(custom, Perrinn424Data.FrontMguBase, Perrinn424Data.Efficiency) : float.NaN;
                case P424Channel.EfficiencyRear: return bus ? Mgu(custom, Perrinn424Data.RearMguBase, Perrinn424Data.Efficiency) : float.NaN;
                case P424Channel.TorqueMechanicalFront: return bus ? Mgu(custom, Perrinn424Data.FrontMguBase, Perrinn424Data.MechanicalTorque) : float.NaN;
                case P424Channel.TorqueMechanicalRear: return bus ? Mgu(custom, Perrinn424Data.RearMguBase, Perrinn424Data.MechanicalTorque) : float.NaN;
                case P424Channel.TorqueRotorFront: return bus ? Mgu(custom, Perrinn424Data.FrontMguBase, Perrinn424Data.RotorTorque) : float.NaN;
                case P424Channel.TorqueRotorRear: return bus ? Mgu(custom, Perrinn424Data.RearMguBase, Perrinn424Data.RotorTorque) : float.NaN;
                case P424Channel.Throttle: return bus ? Bus(custom, Perrinn424Data.ThrottleInput, 1000.0f) : float.NaN;
                case P424Channel.BrakePressure: return bus ? Bus(custom, Perrinn424Data.BrakePressure, 1000.0f) : float.NaN;
                case P424Channel.SteeringAngle: return bus ? Bus(custom, Perrinn424Data.SteeringWheelAngle, 1000.0f) : float.NaN;
                case P424Channel.DrsPosition: return bus ? Bus(custom, Perrinn424Data.DrsPosition, 1000.0f) : float.NaN;
                case P424Channel.RideHeightFront: return bus ? Bus(custom, Perrinn424Data.FrontRideHeight, 1000.0f) : float.NaN;
                case P424Channel.RideHeightRear: return bus ? Bus(custom, Perrinn424Data.RearRideHeight, 1000.0f) : float.NaN;
                case P424Channel.RollAngle:
                    return bus ? 0.5f * (Bus(custom, Perrinn424Data.FrontRollAngle, 1000.0f)
                                         + Bus(custom, Perrinn424Data.RearRollAngle, 1000.0f)) : float.NaN;

                // Unity (x right, y up, z forward) to ISO 8855 (x forward, y left, z up), as the
                // simulator's motion-platform output does.
                case P424Channel.AccelLongitudinal: return vehicle.localAcceleration.z;
                case P424Channel.AccelLateral: return -vehicle.localAcceleration.x;
                case P424Channel.AccelVertical: return vehicle.localAcceleration.y;
                case P424Channel.RollAcceleration: return -vehicle.localAngularAcceleration.z;
                case P424Channel.PitchAcceleration: return vehicle.localAngularAcceleration.x;
                case P424Channel.YawAcceleration: return -vehicle.localAngularAcceleration.y;
                // Roll and pitch rate as the simulator's own telemetry computes them (rigidbody axes);
                // yaw rate, which it lacks, in ISO 8855 (positive turning left).
                case P424Channel.RollRate: return vehicle.cachedRigidbody != null ? vehicle.cachedRigidbody.angularVelocity.z : float.NaN;
                case P424Channel.PitchRate: return vehicle.cachedRigidbody != null ? vehicle.cachedRigidbody.angularVelocity.x : float.NaN;
                case P424Channel.YawRate: return vehicle.cachedRigidbody != null ? -vehicle.cachedRigidbody.angularVelocity.y : float.NaN;

                case P424Channel.SlipRatioFl: return Wheel(0, true);
                case P424Channel.SlipRatioFr: return Wheel(1, true);
                case P424Channel.SlipRatioRl: return Wheel(2, true);
                case P424Channel.SlipRatioRr: return Wheel(3, true);
                case P424Channel.SlipAngleFl: return Wheel(0, false);
                case P424Channel.SlipAngleFr: return Wheel(1, false);
                case P424Channel.SlipAngleRl: return Wheel(2, false);
                case P424Channel.SlipAngleRr: return Wheel(3, false);
                default: return float.NaN;
            }
        }

        static float Bus(int[] channel, int id, float resolution)
        {
            int raw = channel[id];
            return raw <= BusNaN ? float.NaN : raw / resolution;
        }

        static float Mgu(int[] custom, int mguBase, int value)
        {
            return Bus(custom, mguBase + value, 1000.0f);
        }

        // Front share of a front/rear pair, defined as the simulator's powertrain telemetry does.
        static float Balance(float front, float rear)
        {
            if (front == rear) return 0.5f;
            if (front != 0.0f && rear != 0.0f && Math.Sign(front) != Math.Sign(rear)) return float.NaN;
            return front / (front + rear);
        }

        float Wheel(int position, bool slipRatio)
        {
            if (m_wheels == null)
            {
                if (vehicle.wheelState == null || vehicle.GetAxleCount() < 2)
                    return float.NaN;
                int rearAxle = vehicle.GetAxleCount() - 1;
                m_wheels = new VehicleBase.WheelState[]
                {
                    vehicle.wheelState[vehicle.GetWheelIndex(0, VehicleBase.WheelPos.Left)],
                    vehicle.wheelState[vehicle.GetWheelIndex(0, VehicleBase.WheelPos.Right)],
                    vehicle.wheelState[vehicle.GetWheelIndex(rearAxle, VehicleBase.WheelPos.Left)],
                    vehicle.wheelState[vehicle.GetWheelIndex(rearAxle, VehicleBase.WheelPos.Right)],
                };
            }
            VehicleBase.WheelState w = m_wheels[position];
            if (w == null) return float.NaN;
            return slipRatio ? w.slipRatio : w.slipAngle;
        }

        static IPAddress ResolveHost(string name)
        {
            IPAddress address;
            if (IPAddress.TryParse(name, out address))
                return address;
            foreach (IPAddress candidate in Dns.GetHostAddresses(name))
                if (candidate.AddressFamily == AddressFamily.InterNetwork)
                    return candidate;
            throw new SocketException((int)SocketError.HostNotFound);
        }

        void CloseSocket()
        {
            if (m_socket != null)
            {
                m_socket.Close();
                m_socket = null;
            }
        }
    }
}
