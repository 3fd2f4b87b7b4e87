// Streams the PERRINN 424 simulator's telemetry to the telemetry platform as protocol-v1 UDP
// frames (unity_bridge/PROTOCOL.md). Add it to the vehicle GameObject (the one holding
// Perrinn424CarController); see unity_bridge/unity/README.md.
//
// Source of each channel, in order:
//  1. the VPP telemetry channel named like the catalog's sim_name (what the lap files record), an
//     older simulator's name (sim_aliases) or a name from channelAliases. Its DISPLAY value
//     (value x displayMultiplier, in displayUnits) is converted to the catalog's unit with the unit
//     table of p424/units.py (P424Units.g.cs) and multiplied by the catalog's sim_sign: the value
//     the platform would read from the same sample in a lap file;
//  2. otherwise a value computed from the vehicle: Perrinn424CarController's inputs, its custom data
//     bus (Perrinn424Data, today's layout), the standard input channel, the transform, wheel states,
//     accelerations (ISO 8855, like the simulator's motion output);
//  3. otherwise the channel is absent from the frame.
// Telemetry lookups and conversions are resolved when the telemetry's channel list changes; the
// frame loop allocates nothing.

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
        [Tooltip("Extra sources as catalog_name=TelemetryChannel, tried before the catalog's simulator names.")]
        public string[] channelAliases = new string[0];
        [Tooltip("Compute channels the telemetry lacks from the car controller, data bus, transform, wheels and rigidbody.")]
        public bool computeMissingChannels = true;

        // Diagnostics, visible in the inspector's Debug mode.
        public long sessionId { get { return m_sessionId; } }
        public uint sequence { get { return m_sequence; } }
        public long framesSent { get { return m_framesSent; } }
        public long sendErrors { get { return m_sendErrors; } }
        public int telemetryChannelsResolved { get { return m_resolved; } }
        /// <summary>Telemetry channels found but not used because their display unit does not convert.</summary>
        public int unitErrors { get { return m_unitErrors; } }

        // Telemetry.Marker bits (PROTOCOL.md "markers").
        const uint TimeResetMarker = 1u << 0;
        const uint StartLineMarker = 1u << 3;
        const uint SectorLineMarker = 1u << 4;

        const int BusNaN = -2147483647;  // how the VPP data bus stores NaN; int.MinValue is treated alike
        const float BusResolution = 1000.0f;  // Perrinn424Data fixed point: ratios, angles, m, Nm, rpm x1000
        const float WattsPerKilowatt = 1000.0f;  // Perrinn424Data.ElectricalPower is stored in W
        const float RadPerSecToRpm = (float)(30.0 / Math.PI);
        const float RadToDeg = (float)(180.0 / Math.PI);

        // Wheel positions as the simulator's telemetry orders them.
        const int FL = 0, FR = 1, RL = 2, RR = 3;

        static long s_lastSessionId;

        readonly P424FrameWriter m_writer = new P424FrameWriter();
        readonly int[] m_telemetryIndex = new int[P424Catalog.ChannelCount];
        // Display value to catalog unit and axis: displayMultiplier x unit factor x sim_sign.
        readonly double[] m_telemetryScale = new double[P424Catalog.ChannelCount];
        string[] m_userAliases;  // per channel: the channelAliases name, or null
        Socket m_socket;
        int m_lastChannelCount = -1;
        int m_resolved;
        int m_unitErrors;
        int m_lastRowFrame = int.MinValue;
        uint m_pendingMarkers;
        int m_sector;
        int m_stepsSinceFrame;
        double m_clockWithoutTelemetry;
        long m_sessionId;
        uint m_sequence;
        long m_framesSent;
        long m_sendErrors;
        Perrinn424CarController m_car;  // null: not the 424, no data bus layout to read
        VehicleBase.WheelState[] m_wheels;  // FL, FR, RL, RR
        bool m_hasTransform;
        Vector3 m_position;
        Vector3 m_eulerAngles;

        public override int GetUpdateOrder()
        {
            // After the vehicle's own components and the simulator's telemetry providers.
            return 200;
        }

        public override void OnEnableVehicle()
        {
            m_userAliases = ParseAliases(channelAliases);
            m_lastChannelCount = -1;
            m_car = vehicle as Perrinn424CarController;
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
            // The catalog's sector is 1-based (as the platform's lap-file reader and simulator give it);
            // 0 here means no start line seen yet, sent as absent.
            if ((markers & StartLineMarker) != 0)
                m_sector = 1;
            else if ((markers & SectorLineMarker) != 0 && m_sector > 0)
                m_sector++;
            m_pendingMarkers |= markers;
        }

        void SendFrame(Telemetry telemetry, Telemetry.DataRow row)
        {
            if (telemetry != null && telemetry.channels.Count != m_lastChannelCount)
                ResolveTelemetryChannels(telemetry);

            m_writer.BeginFrame();
            float[] values = row != null ? row.values : null;
            DataBus data = vehicle.data;
            int[] custom = data != null ? data.Get(Channel.Custom) : null;
            int[] input = data != null ? data.Get(Channel.Input) : null;
            Transform carTransform = vehicle.cachedTransform;
            m_hasTransform = carTransform != null;
            if (m_hasTransform)
            {
                m_position = carTransform.position;
                m_eulerAngles = carTransform.eulerAngles;
            }
            for (int i = 0; i < P424Catalog.ChannelCount; i++)
            {
                float v = float.NaN;
                int t = m_telemetryIndex[i];
                if (values != null && t >= 0 && t < values.Length)
                    v = (float)(values[t] * m_telemetryScale[i]);
                if (float.IsNaN(v) && computeMissingChannels)
                    v = Compute(i, row, custom, input);
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
                m_telemetryIndex[i] = -1;
                bool found = Resolve(telemetry, i, m_userAliases[i]) || Resolve(telemetry, i, P424Catalog.SimNames[i]);
                string[] aliases = P424Catalog.SimAliases[i];
                for (int a = 0; !found && a < aliases.Length; a++)
                    found = Resolve(telemetry, i, aliases[a]);
                if (found)
                    m_resolved++;
            }
        }

        // Reads channel i from the telemetry channel called name when it exists and its display unit
        // converts to the catalog's unit.
        bool Resolve(Telemetry telemetry, int i, string name)
        {
            if (string.IsNullOrEmpty(name))
                return false;
            int t = telemetry.GetChannelIndex(name);
            if (t < 0)
                return false;
            Telemetry.SemanticInfo semantic = telemetry.GetChannelSemmantic(t);
            double factor = 1.0;
            string error = semantic == null ? "it has no semantic (display units)" : null;
            if (semantic != null && P424Units.TryConversion(semantic.displayUnits, P424Catalog.Units[i], out factor, out error))
            {
                m_telemetryIndex[i] = t;
                m_telemetryScale[i] = semantic.displayMultiplier * factor * P424Catalog.SimSigns[i];
                return true;
            }
            m_unitErrors++;
            Debug.LogWarning("P424TelemetrySender: telemetry channel " + name + " not read as " + P424Catalog.Names[i]
                             + " (" + P424Catalog.Units[i] + "): " + error);
            return false;
        }

        /// <summary>Per payload channel, the telemetry channel channelAliases names for it (null: none).</summary>
        static string[] ParseAliases(string[] aliases)
        {
            string[] names = new string[P424Catalog.ChannelCount];
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

        // Values for channels the telemetry does not carry, in the catalog's units and axes. NaN = not
        // available. Each follows the simulator's own telemetry provider of the same channel
        // (Perrinn424GenericTelemetry, Perrinn424MguTelemetry, RawInputTelemetryProvider).
        float Compute(int index, Telemetry.DataRow row, int[] custom, int[] input)
        {
            bool car = m_car != null;
            bool bus = car && custom != null;
            const int F = Perrinn424Data.FrontMguBase, R = Perrinn424Data.RearMguBase;
            switch (index)
            {
                case P424Channel.Sector: return m_sector > 0 ? m_sector : float.NaN;
                case P424Channel.TotalDistance: return row != null ? (float)row.totalDistance : float.NaN;
                case P424Channel.Speed: return vehicle.speed;

                // The controller's own inputs, as the simulator's Gear/SteeringAngle/Throttle/Brake channels
                // read them (the data bus holds the same at 1/1000 resolution).
                case P424Channel.Gear: return car ? m_car.gear : float.NaN;
                case P424Channel.SteeringAngle: return car ? m_car.steerAngle : float.NaN;
                case P424Channel.Throttle: return car ? m_car.throttlePosition : float.NaN;
                case P424Channel.BrakePosition: return car ? m_car.brakePosition : float.NaN;
                // Lift and coast is requested through the input channel's retarder slot.
                case P424Channel.LiftAndCoast: return car && input != null ? input[InputData.Retarder] : float.NaN;

                // VPP's standard input channel, raw (steer -10000..10000, pedals 0..10000).
                case P424Channel.RawSteer: return input != null ? input[InputData.Steer] : float.NaN;
                case P424Channel.RawThrottle: return input != null ? input[InputData.Throttle] : float.NaN;
                case P424Channel.RawBrake: return input != null ? input[InputData.Brake] : float.NaN;
                case P424Channel.AutomaticGear: return input != null ? input[InputData.AutomaticGear] : float.NaN;

                // MGUs: Perrinn424CarController fills FrontMguBase/RearMguBase + id every step.
                case P424Channel.MotorRpmFront: return bus ? Bus(custom, F + Perrinn424Data.Rpm) : float.NaN;
                case P424Channel.MotorRpmRear: return bus ? Bus(custom, R + Perrinn424Data.Rpm) : float.NaN;
                case P424Channel.PowerElectricalFront: return bus ? Kilowatts(custom, F) : float.NaN;
                case P424Channel.PowerElectricalRear: return bus ? Kilowatts(custom, R) : float.NaN;
                case P424Channel.PowerElectricalTotal: return bus ? Kilowatts(custom, F) + Kilowatts(custom, R) : float.NaN;
                // The balances live in the front block.
                case P424Channel.PowerBalance: return bus ? Bus(custom, F + Perrinn424Data.PowerBalance) : float.NaN;
                case P424Channel.PowerBalanceFeedForward: return bus ? Bus(custom, F + Perrinn424Data.PowerBalanceFeedForward) : float.NaN;
                case P424Channel.PowerBalanceOffset:
                    return bus ? Bus(custom, F + Perrinn424Data.PowerBalance) - Bus(custom, F + Perrinn424Data.PowerBalanceFeedForward) : float.NaN;
                case P424Channel.PowerBalanceDelivered: return bus ? Balance(Kilowatts(custom, F), Kilowatts(custom, R)) : float.NaN;
                case P424Channel.WheelTorqueBalance:
                    return bus ? Balance(Bus(custom, F + Perrinn424Data.WheelsTorque), Bus(custom, R + Perrinn424Data.WheelsTorque)) : float.NaN;
                case P424Channel.EfficiencyFront: return bus ? Bus(custom, F + Perrinn424Data.Efficiency) : float.NaN;
                case P424Channel.EfficiencyRear: return bus ? Bus(custom, R + Perrinn424Data.Efficiency) : float.NaN;
                case P424Channel.TorqueMechanicalFront: return bus ? Bus(custom, F + Perrinn424Data.MguTorque) : float.NaN;
                case P424Channel.TorqueMechanicalRear: return bus ? Bus(custom, R + Perrinn424Data.MguTorque) : float.NaN;
                case P424Channel.TorqueRotorFront: return bus ? Bus(custom, F + Perrinn424Data.MguRotorTorque) : float.NaN;
                case P424Channel.TorqueRotorRear: return bus ? Bus(custom, R + Perrinn424Data.MguRotorTorque) : float.NaN;

                // Differentials, chassis, aero flap: custom data bus.
                case P424Channel.TorqueFrictionFront: return bus ? Bus(custom, Perrinn424Data.FrontDiffFriction) : float.NaN;
                case P424Channel.TorqueFrictionRear: return bus ? Bus(custom, Perrinn424Data.RearDiffFriction) : float.NaN;
                case P424Channel.RideHeightFront: return bus ? Bus(custom, Perrinn424Data.FrontRideHeight) : float.NaN;
                case P424Channel.RideHeightRear: return bus ? Bus(custom, Perrinn424Data.RearRideHeight) : float.NaN;
                case P424Channel.RollAngleFront: return bus ? Bus(custom, Perrinn424Data.FrontRollAngle) : float.NaN;
                case P424Channel.RollAngleRear: return bus ? Bus(custom, Perrinn424Data.RearRollAngle) : float.NaN;
                case P424Channel.RollAngle:
                    return bus ? 0.5f * (Bus(custom, Perrinn424Data.FrontRollAngle) + Bus(custom, Perrinn424Data.RearRollAngle)) : float.NaN;
                // The simulator's GroundSlope channel (deg) is the bus's GroundAngle; its GroundGrade (ratio) the bus's GroundSlope.
                case P424Channel.GroundSlope: return bus ? Bus(custom, Perrinn424Data.GroundAngle) : float.NaN;
                case P424Channel.GroundGrade: return bus ? Bus(custom, Perrinn424Data.GroundSlope) : float.NaN;
                case P424Channel.UndersteerAngle: return bus ? Bus(custom, Perrinn424Data.UndersteerAngle) : float.NaN;
                // Written by Perrinn424Aerodynamics.
                case P424Channel.DrsPosition: return bus ? Bus(custom, Perrinn424Data.DrsPosition) : float.NaN;

                // World position and attitude of the car, Unity axes (y up), as the simulator's
                // PositionX/Y/Z and RotationX/Y/Z: heading 0..360, pitch and roll wrapped to +-180.
                case P424Channel.PositionX: return m_hasTransform ? m_position.x : float.NaN;
                case P424Channel.PositionY: return m_hasTransform ? m_position.y : float.NaN;
                case P424Channel.PositionZ: return m_hasTransform ? m_position.z : float.NaN;
                case P424Channel.Heading: return m_hasTransform ? m_eulerAngles.y : float.NaN;
                case P424Channel.AttitudePitch: return m_hasTransform ? Wrap180(m_eulerAngles.x) : float.NaN;
                case P424Channel.AttitudeRoll: return m_hasTransform ? Wrap180(m_eulerAngles.z) : float.NaN;

                // Unity (x right, y up, z forward) to ISO 8855 (x forward, y left, z up), as the
                // simulator's motion-platform output does.
                case P424Channel.AccelLongitudinal: return vehicle.localAcceleration.z;
                case P424Channel.AccelLateral: return -vehicle.localAcceleration.x;
                case P424Channel.AccelVertical: return vehicle.localAcceleration.y;
                case P424Channel.RollAcceleration: return -vehicle.localAngularAcceleration.z;
                case P424Channel.PitchAcceleration: return vehicle.localAngularAcceleration.x;
                case P424Channel.YawAcceleration: return -vehicle.localAngularAcceleration.y;
                // Roll and pitch rate from the rigidbody axes; yaw rate in ISO 8855 (positive turning left).
                case P424Channel.RollRate: return vehicle.cachedRigidbody != null ? vehicle.cachedRigidbody.angularVelocity.z : float.NaN;
                case P424Channel.PitchRate: return vehicle.cachedRigidbody != null ? vehicle.cachedRigidbody.angularVelocity.x : float.NaN;
                case P424Channel.YawRate: return vehicle.cachedRigidbody != null ? -vehicle.cachedRigidbody.angularVelocity.y : float.NaN;

                // Wheels, FL FR RL RR.
                case P424Channel.WheelRpmFl: return WheelRpm(FL);
                case P424Channel.WheelRpmFr: return WheelRpm(FR);
                case P424Channel.WheelRpmRl: return WheelRpm(RL);
                case P424Channel.WheelRpmRr: return WheelRpm(RR);
                case P424Channel.WheelRpmDiffFront: return WheelRpmDiff(FL, FR);
                case P424Channel.WheelRpmDiffRear: return WheelRpmDiff(RL, RR);
                case P424Channel.TorqueDiffFront: return DriveTorque(FL) - DriveTorque(FR);
                case P424Channel.TorqueDiffRear: return DriveTorque(RL) - DriveTorque(RR);
                case P424Channel.CamberFl: return Camber(FL);
                case P424Channel.CamberFr: return Camber(FR);
                case P424Channel.CamberRl: return Camber(RL);
                case P424Channel.CamberRr: return Camber(RR);
                case P424Channel.SlipRatioFl: return Slip(FL, true);
                case P424Channel.SlipRatioFr: return Slip(FR, true);
                case P424Channel.SlipRatioRl: return Slip(RL, true);
                case P424Channel.SlipRatioRr: return Slip(RR, true);
                case P424Channel.SlipAngleFl: return Slip(FL, false);
                case P424Channel.SlipAngleFr: return Slip(FR, false);
                case P424Channel.SlipAngleRl: return Slip(RL, false);
                case P424Channel.SlipAngleRr: return Slip(RR, false);
                default: return float.NaN;
            }
        }

        static float Bus(int[] custom, int id)
        {
            int raw = custom[id];
            return raw <= BusNaN ? float.NaN : raw / BusResolution;
        }

        static float Kilowatts(int[] custom, int mguBase)
        {
            int watts = custom[mguBase + Perrinn424Data.ElectricalPower];
            return watts <= BusNaN ? float.NaN : watts / WattsPerKilowatt;
        }

        // Front share of a front/rear pair, defined as the simulator's powertrain telemetry does.
        static float Balance(float front, float rear)
        {
            if (float.IsNaN(front) || float.IsNaN(rear)) return float.NaN;
            if (front == rear) return 0.5f;
            if (front != 0.0f && rear != 0.0f && (front > 0.0f) != (rear > 0.0f)) return float.NaN;
            return front / (front + rear);
        }

        static float Wrap180(float degrees)
        {
            return degrees > 180.0f ? degrees - 360.0f : degrees;
        }

        VehicleBase.WheelState WheelAt(int position)
        {
            if (m_wheels == null)
            {
                if (vehicle.wheelState == null || vehicle.GetAxleCount() < 2)
                    return null;
                int rearAxle = vehicle.GetAxleCount() - 1;
                m_wheels = new VehicleBase.WheelState[]
                {
                    vehicle.wheelState[vehicle.GetWheelIndex(0, VehicleBase.WheelPos.Left)],
                    vehicle.wheelState[vehicle.GetWheelIndex(0, VehicleBase.WheelPos.Right)],
                    vehicle.wheelState[vehicle.GetWheelIndex(rearAxle, VehicleBase.WheelPos.Left)],
                    vehicle.wheelState[vehicle.GetWheelIndex(rearAxle, VehicleBase.WheelPos.Right)],
                };
            }
            return m_wheels[position];
        }

        float WheelRpm(int position)
        {
            VehicleBase.WheelState w = WheelAt(position);
            return w != null ? w.angularVelocity * RadPerSecToRpm : float.NaN;
        }

        // Left minus right, subtracted before scaling as the simulator's RpmDiff channels do.
        float WheelRpmDiff(int left, int right)
        {
            VehicleBase.WheelState l = WheelAt(left), r = WheelAt(right);
            return l != null && r != null ? (l.angularVelocity - r.angularVelocity) * RadPerSecToRpm : float.NaN;
        }

        float DriveTorque(int position)
        {
            VehicleBase.WheelState w = WheelAt(position);
            return w != null ? w.driveTorque : float.NaN;
        }

        // Degrees, absent while airborne; the left wheels' sign flipped as the simulator's CamberFL/RL.
        float Camber(int position)
        {
            VehicleBase.WheelState w = WheelAt(position);
            if (w == null || !w.grounded) return float.NaN;
            float camber = w.wheelContact.camber * RadToDeg;
            return position == FL || position == RL ? -camber : camber;
        }

        float Slip(int position, bool slipRatio)
        {
            VehicleBase.WheelState w = WheelAt(position);
            if (w == null || !w.grounded) return float.NaN;
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
