"""The PERRINN 424 channel catalog: the single source of truth for every channel.

The frame codec (payload layout), the Cassandra schema (window and lap columns), the Grafana
dashboards (one panel per channel) and the ML features all derive from ``CHANNELS`` below.
Adding a channel is one line in ``CHANNELS``, appended at the end, then a new ``CATALOG_VERSION``
and ``python -m p424.catalog register`` (which keeps the previous version readable: see
``p424/catalog/history.py``). Any change to names, units, transport or order changes the catalog
hash; senders of a registered older catalog are still accepted and their channels mapped by name.

Header channels travel in the fixed frame header (session clock, lap, lap distance, markers);
payload channels travel as float32 values in catalog order.
"""

from __future__ import annotations

from p424.catalog.model import Channel, Kind, Transport

CATALOG_VERSION = "1.0.0"

HEADER, DISCRETE = Transport.HEADER, Kind.DISCRETE
PER_G = 1 / 9.80665  # m/s2 -> g

# One entry per channel. Order of payload channels is the wire order: append new channels at the end.
CHANNELS: tuple[Channel, ...] = (
    # --- timing ---
    Channel(name='sim_time', unit='s', group='timing', lo=0, hi=86400, description='Session clock: seconds since the session started', sim_name='TotalTime', transport=HEADER),
    Channel(name='lap', unit='', group='timing', lo=0, hi=999, description='Lap (segment) number, counted from the session start', sim_name='Segment', kind=DISCRETE, transport=HEADER),
    Channel(name='lap_distance', unit='m', group='timing', lo=0, hi=21000, description='Distance from the start line along the lap', sim_name='Distance', multiplier=0.001, display_unit='km', transport=HEADER),
    Channel(name='markers', unit='', group='timing', lo=0, hi=65535, description='Marker bitmask (bit 0 time reset, 1 distance reset, 2 reposition, 3 start line, 4 sector line, 9 off track, 10 contact, 11 impact)', sim_name='Markers', kind=DISCRETE, transport=HEADER),
    Channel(name='sector', unit='', group='timing', lo=0, hi=10, description='Sector of the lap, 1-based', sim_name='Sector', kind=DISCRETE),
    Channel(name='total_distance', unit='m', group='timing', lo=0, hi=2000000, description='Distance driven since the session started', sim_name='TotalDistance', multiplier=0.001, display_unit='km'),
    # --- vehicle ---
    Channel(name='speed', unit='m/s', group='vehicle', lo=0, hi=100, description='Vehicle speed', sim_name='Speed', multiplier=3.6, display_unit='km/h', key=True),
    # --- powertrain ---
    Channel(name='motor_rpm_front', unit='rpm', group='powertrain', lo=0, hi=21000, description='Front MGU speed', sim_name='MotorRpmFront', key=True),
    Channel(name='motor_rpm_rear', unit='rpm', group='powertrain', lo=0, hi=21000, description='Rear MGU speed', sim_name='MotorRpmRear', key=True),
    Channel(name='power_electrical_front', unit='kW', group='powertrain', lo=-300, hi=300, description='Front MGU electrical power (negative when regenerating)', sim_name='PowerElectricalFront', key=True),
    Channel(name='power_electrical_rear', unit='kW', group='powertrain', lo=-550, hi=550, description='Rear MGU electrical power (negative when regenerating)', sim_name='PowerElectricalRear', key=True),
    Channel(name='power_electrical_total', unit='kW', group='powertrain', lo=-800, hi=800, description='Total electrical power drawn from the battery (negative when regenerating)', sim_name='PowerElectricalTotal', key=True),
    Channel(name='power_balance', unit='ratio', group='powertrain', lo=0, hi=1, description='Front share of the total electrical power', sim_name='PowerBalance', multiplier=100, display_unit='%'),
    Channel(name='efficiency_front', unit='ratio', group='powertrain', lo=0, hi=1, description='Front MGU efficiency', sim_name='EfficiencyFront', multiplier=100, display_unit='%'),
    Channel(name='efficiency_rear', unit='ratio', group='powertrain', lo=0, hi=1, description='Rear MGU efficiency', sim_name='EfficiencyRear', multiplier=100, display_unit='%'),
    Channel(name='torque_mechanical_front', unit='Nm', group='powertrain', lo=-600, hi=600, description='Front MGU mechanical torque', sim_name='TorqueMechanicalFront'),
    Channel(name='torque_mechanical_rear', unit='Nm', group='powertrain', lo=-1200, hi=1200, description='Rear MGU mechanical torque', sim_name='TorqueMechanicalRear'),
    Channel(name='torque_rotor_front', unit='Nm', group='powertrain', lo=-600, hi=600, description='Front rotor torque', sim_name='TorqueRotorFront'),
    Channel(name='torque_rotor_rear', unit='Nm', group='powertrain', lo=-1200, hi=1200, description='Rear rotor torque', sim_name='TorqueRotorRear'),
    # --- driver ---
    Channel(name='throttle', unit='ratio', group='driver', lo=0, hi=1, description='Throttle pedal position', sim_name='Throttle', multiplier=100, display_unit='%', key=True),
    Channel(name='brake_pressure', unit='bar', group='driver', lo=0, hi=100, description='Brake line pressure', sim_name='BrakePressure', key=True),
    Channel(name='steering_angle', unit='deg', group='driver', lo=-360, hi=360, description='Steering wheel angle', sim_name='SteeringAngle'),
    Channel(name='gear', unit='', group='driver', lo=-1, hi=1, description='Gear selector: -1 reverse, 0 neutral, 1 drive', sim_name='Gear', kind=DISCRETE),
    # --- differential ---
    Channel(name='torque_diff_front', unit='Nm', group='differential', lo=-1000, hi=1000, description='Front differential torque transfer', sim_name='TorqueDiffFront'),
    Channel(name='torque_diff_rear', unit='Nm', group='differential', lo=-2000, hi=2000, description='Rear differential torque transfer', sim_name='TorqueDiffRear'),
    Channel(name='speed_diff_front', unit='m/s', group='differential', lo=-5, hi=5, description='Front axle wheel speed difference', sim_name='SpeedDiffFront'),
    Channel(name='speed_diff_rear', unit='m/s', group='differential', lo=-5, hi=5, description='Rear axle wheel speed difference', sim_name='SpeedDiffRear'),
    # --- chassis ---
    Channel(name='accel_longitudinal', unit='m/s2', group='chassis', lo=-50, hi=50, description='Longitudinal acceleration (ISO 8855 x)', sim_name='AccelerationLongitudinal', multiplier=PER_G, display_unit='g', key=True),
    Channel(name='accel_lateral', unit='m/s2', group='chassis', lo=-50, hi=50, description='Lateral acceleration (ISO 8855 y)', sim_name='AccelerationLateral', multiplier=PER_G, display_unit='g', key=True),
    Channel(name='accel_vertical', unit='m/s2', group='chassis', lo=-50, hi=50, description='Vertical acceleration (ISO 8855 z), gravity removed: 0 on a flat road', sim_name='AccelerationVertical', multiplier=PER_G, display_unit='g'),
    Channel(name='roll_rate', unit='rad/s', group='chassis', lo=-2, hi=2, description='Roll rate', sim_name='RollRate'),
    Channel(name='pitch_rate', unit='rad/s', group='chassis', lo=-2, hi=2, description='Pitch rate', sim_name='PitchRate'),
    Channel(name='yaw_rate', unit='rad/s', group='chassis', lo=-3, hi=3, description='Yaw rate', sim_name='YawRate'),
    Channel(name='roll_acceleration', unit='rad/s2', group='chassis', lo=-50, hi=50, description='Angular acceleration about x (motion-platform output)', sim_name='AngularAccelerationX'),
    Channel(name='pitch_acceleration', unit='rad/s2', group='chassis', lo=-50, hi=50, description='Angular acceleration about y (motion-platform output)', sim_name='AngularAccelerationY'),
    Channel(name='yaw_acceleration', unit='rad/s2', group='chassis', lo=-50, hi=50, description='Angular acceleration about z (motion-platform output)', sim_name='AngularAccelerationZ'),
    Channel(name='roll_angle', unit='deg', group='chassis', lo=-5, hi=5, description='Body roll angle', sim_name='RollAngle'),
    Channel(name='ride_height_front', unit='m', group='chassis', lo=0, hi=0.1, description='Front ride height', sim_name='RideHeightFront', multiplier=1000, display_unit='mm'),
    Channel(name='ride_height_rear', unit='m', group='chassis', lo=0, hi=0.1, description='Rear ride height', sim_name='RideHeightRear', multiplier=1000, display_unit='mm'),
    Channel(name='drs_position', unit='ratio', group='chassis', lo=0, hi=1, description='DRS flap position (0 closed, 1 open)', sim_name='DrsPosition', multiplier=100, display_unit='%'),
    Channel(name='steering_torque', unit='Nm', group='chassis', lo=-30, hi=30, description='Steering column torque (motion-platform output)', sim_name='SteeringTorque'),
    # --- tyres ---
    Channel(name='slip_ratio_fl', unit='ratio', group='tyres', lo=-0.3, hi=0.3, description='Front-left longitudinal slip ratio', sim_name='SlipRatioFL', multiplier=100, display_unit='%'),
    Channel(name='slip_ratio_fr', unit='ratio', group='tyres', lo=-0.3, hi=0.3, description='Front-right longitudinal slip ratio', sim_name='SlipRatioFR', multiplier=100, display_unit='%'),
    Channel(name='slip_ratio_rl', unit='ratio', group='tyres', lo=-0.3, hi=0.3, description='Rear-left longitudinal slip ratio', sim_name='SlipRatioRL', multiplier=100, display_unit='%'),
    Channel(name='slip_ratio_rr', unit='ratio', group='tyres', lo=-0.3, hi=0.3, description='Rear-right longitudinal slip ratio', sim_name='SlipRatioRR', multiplier=100, display_unit='%'),
    Channel(name='slip_angle_fl', unit='deg', group='tyres', lo=-15, hi=15, description='Front-left slip angle', sim_name='SlipAngleFL'),
    Channel(name='slip_angle_fr', unit='deg', group='tyres', lo=-15, hi=15, description='Front-right slip angle', sim_name='SlipAngleFR'),
    Channel(name='slip_angle_rl', unit='deg', group='tyres', lo=-15, hi=15, description='Rear-left slip angle', sim_name='SlipAngleRL'),
    Channel(name='slip_angle_rr', unit='deg', group='tyres', lo=-15, hi=15, description='Rear-right slip angle', sim_name='SlipAngleRR'),
    Channel(name='tyre_temperature_fl', unit='degC', group='tyres', lo=0, hi=150, description='Front-left tyre surface temperature', sim_name='TyreTemperatureFL'),
    Channel(name='tyre_temperature_fr', unit='degC', group='tyres', lo=0, hi=150, description='Front-right tyre surface temperature', sim_name='TyreTemperatureFR'),
    Channel(name='tyre_temperature_rl', unit='degC', group='tyres', lo=0, hi=150, description='Rear-left tyre surface temperature', sim_name='TyreTemperatureRL'),
    Channel(name='tyre_temperature_rr', unit='degC', group='tyres', lo=0, hi=150, description='Rear-right tyre surface temperature', sim_name='TyreTemperatureRR'),
    # --- battery ---
    Channel(name='battery_temperature', unit='degC', group='battery', lo=0, hi=75, description='Battery cell temperature', sim_name='BatteryTemperature', key=True),
    Channel(name='battery_total_heat', unit='W', group='battery', lo=0, hi=200000, description='Heat generated in the battery', sim_name='BatteryTotalHeat'),
    Channel(name='battery_air_mass_flow', unit='kg/s', group='battery', lo=0, hi=2, description='Cooling air mass flow through the battery', sim_name='BatteryAirMassFlow'),
    Channel(name='battery_heat_dissipation', unit='W/degC', group='battery', lo=0, hi=5000, description='Battery heat dissipation coefficient', sim_name='BatteryHeatDissipation'),
    Channel(name='battery_heat_dissipated', unit='J', group='battery', lo=-1000000000.0, hi=1000000000.0, description='Heat dissipated by the battery since the session started', sim_name='BatteryHeatDissipated'),
    Channel(name='battery_q_internal', unit='J', group='battery', lo=0, hi=1000000000.0, description='Internal heat accumulated in the battery', sim_name='BatteryQInternal'),
    Channel(name='battery_soc', unit='ratio', group='battery', lo=0, hi=1, description='Battery state of charge', sim_name='BatterySOC', multiplier=100, display_unit='%', key=True),
    Channel(name='battery_energy', unit='kWh', group='battery', lo=0, hi=55, description='Usable energy left in the battery', sim_name='BatteryEnergy', key=True),
)
